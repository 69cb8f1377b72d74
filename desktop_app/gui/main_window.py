"""The main window: submit panel beside a dashboard of queue, workers and results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox, QSplitter

from desktop_app import __version__
from desktop_app.core.alerts import Rules, load_rules, save_rules
from desktop_app.core.paths import sqlite_filename
from desktop_app.gui.alerts_panel import AlertRulesDialog, AlertsPanel
from desktop_app.gui.consumer_process import ConsumerProcess
from desktop_app.gui.jobs import run_job
from desktop_app.gui.metrics_toggle import MetricsToggle
from desktop_app.gui.models import WorkersModel
from desktop_app.gui.monitor import Monitor
from desktop_app.gui.queue_panel import QueuePanel
from desktop_app.gui.queue_table import QueueModel
from desktop_app.gui.submit_panel import SubmitPanel
from desktop_app.gui.task_history import TasksModel
from desktop_app.gui.tasks_panel import TasksPanel
from desktop_app.gui.timeline_panel import TimelinePanel
from desktop_app.gui.tray import Notifier
from desktop_app.gui.workers_panel import WorkersPanel


def window_title(target: Any) -> str:
    """Names the queue and its database, so that two windows can be told apart."""
    huey = target.huey
    db = sqlite_filename(huey)
    if db is not None:
        home = Path.home()
        where = f"~/{db.relative_to(home)}" if db.is_relative_to(home) else str(db)
    else:
        where = type(huey.storage).__name__
    return f"Huey Desk — {huey.name} · {where} ({target.spec})"


class MainWindow(QMainWindow):
    """Huey Desk's window."""

    refresh_requested = Signal()
    watch_pid = Signal(int)  # the consumer this window runs, for its CPU and memory

    def __init__(
        self,
        target: Any,
        catalogue: Any,
        dispatcher: Any,
        consumer: ConsumerProcess | None,
        inspector: Any = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle(window_title(target))
        self.target = target
        self.consumer = consumer
        self.dispatcher = dispatcher
        self.inspector = inspector
        self.settings = QSettings("huey-desk", "huey-desk")

        self.tasks_model = TasksModel(self)
        self.queue_model = QueueModel(self)
        self.workers_model = WorkersModel(self)

        self.submit_panel = SubmitPanel(catalogue, dispatcher, inspector=inspector)
        self.submit_panel.consumer = consumer
        self.submit_panel.submitted.connect(lambda _id: self.refresh_requested.emit())

        self.queue_panel = QueuePanel(self.queue_model)
        self.queue_panel.action.connect(self._queue_action)
        self.workers_panel = WorkersPanel(self.workers_model, consumer)
        self.workers_panel.watch_pid.connect(self.watch_pid)
        self.workers_panel.message.connect(self.statusBar().showMessage)
        self.results_panel = TasksPanel(self.tasks_model, catalogue, inspector, dispatcher)
        self.results_panel.confirm = lambda question: self.confirm(question)
        # alerts: a tab beside the consumer's output and the charts
        self.alerts_panel = AlertsPanel()
        self.alerts_panel.show_rules(load_rules())
        self.alerts_panel.rules_requested.connect(self.edit_alert_rules)
        below = self.workers_panel.below
        self._alerts_tab = below.addTab(self.alerts_panel, "Alerts")
        self.alerts_panel.count_changed.connect(
            lambda n: below.setTabText(self._alerts_tab, f"Alerts ({n})" if n else "Alerts")
        )
        # the worker timeline: a tab there too; a clicked bar opens the task's details
        self.timeline = TimelinePanel()
        below.addTab(self.timeline, "Timeline")
        self.results_panel.message.connect(self.statusBar().showMessage)
        self.details = self.results_panel.details
        self.timeline.task_requested.connect(self.details.show_task)
        self.details.retry_requested.connect(self.retry)
        self.details.revoke_requested.connect(lambda task_id: self._act("revoke", [task_id]))
        self.details.edit_requested.connect(self.submit_panel.prefill)
        # the panels' parts, by the names tests and scripts use
        self.queue_view = self.queue_panel.view
        self.queue_filter = self.queue_panel.filter
        self.revoke_button = self.queue_panel.revoke_button
        self.restore_button = self.queue_panel.restore_button
        self.run_now_button = self.queue_panel.run_now_button
        self.flush_button = self.queue_panel.flush_button
        self.workers_view = self.workers_panel.view
        self.consumer_state = self.workers_panel.consumer_state
        self.worker_count = self.workers_panel.worker_count
        self.start_button = self.workers_panel.start_button
        self.stop_button = self.workers_panel.stop_button
        self.restart_button = self.workers_panel.restart_button
        self.log = self.workers_panel.log
        self.log_level = self.workers_panel.log_level
        self.charts = self.workers_panel.charts
        self.results_view = self.results_panel.view
        self.state_combo = self.results_panel.state_combo
        self.task_combo = self.results_panel.task_combo
        self.text_filter = self.results_panel.text_filter

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.queue_panel)
        top.addWidget(self.workers_panel)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(self.results_panel)
        right.setSizes([400, 480])  # the tasks and their details get the larger part
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main-splitter")
        self.splitter.addWidget(self.submit_panel)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 3)
        self.setCentralWidget(self.splitter)
        self.splitters = {
            "main": self.splitter,
            "right": right,
            "top": top,
            "workers": self.workers_panel.splitter,
        }
        # column widths a user dragged are kept per table (the sort order is not: a table
        # opens newest first, live)
        self.tables = {
            "queue": self.queue_panel.view,
            "workers": self.workers_panel.view,
            "tasks": self.results_panel.view,
        }

        self.counts = QLabel()
        self.counts.setObjectName("counts")
        self.statusBar().addPermanentWidget(self.counts)
        self.quitting = False
        self._told_about_tray = False
        self.notifier = Notifier(self, self.settings)
        self.notifier.open_task.connect(self.open_task)
        self._monitor: Monitor | None = None
        self._menus()
        if consumer is not None:
            consumer.rerun_interrupted = self.rerun_action.isChecked()
        self._restore()

    # -- menus and consumer control ----------------------------------------------------
    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.metrics = MetricsToggle(self, self.inspector, self.settings)
        self.metrics.said.connect(self.statusBar().showMessage)
        file_menu.addAction(self.metrics.action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.quit)
        file_menu.addAction(quit_action)
        view = self.menuBar().addMenu("&View")
        find = QAction("&Find in tasks", self, shortcut=QKeySequence.StandardKey.Find)
        find.triggered.connect(lambda: self.text_filter.setFocus())
        view.addAction(find)
        # Task: what can be done to the selected task and the selected queued tasks
        task = self.menuBar().addMenu("&Task")
        retry = QAction("&Retry selected task", self, shortcut=QKeySequence("Ctrl+R"))
        retry.triggered.connect(lambda: self.details.task_id and self.retry(self.details.task_id))
        task.addAction(retry)
        edit = QAction("&Edit and resubmit selected task", self, shortcut=QKeySequence("Ctrl+E"))
        edit.triggered.connect(self.details.edit_button.click)
        task.addAction(edit)
        task.addSeparator()
        task.addActions(self.results_panel.bulk_actions)  # tasks table: many at once
        task.addSeparator()
        queued = [
            ("Run selected queued tasks &now", "run_now", None),
            (
                "Re&voke selected queued tasks",
                "revoke",
                QKeySequence(QKeySequence.StandardKey.Delete),
            ),
            ("Re&store selected queued tasks", "restore", None),
            ("&Flush the queue…", "flush", None),
        ]
        for text, name, keys in queued:
            action = QAction(text, self)
            if keys is not None:
                action.setShortcut(keys)
            action.triggered.connect(lambda _checked=False, n=name: self._queue_action(n))
            task.addAction(action)
            if name != "flush":
                self.queue_view.addAction(action)  # the queue table's context menu
        self.queue_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        refresh = QAction("&Refresh", self, shortcut=QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.refresh_requested.emit)
        view.addAction(refresh)
        newest = QAction("&Newest first", self, shortcut=QKeySequence("Ctrl+Shift+N"))
        newest.setToolTip("Tasks in the order they were created, newest on top, live")
        newest.triggered.connect(self.newest_first)
        view.addAction(newest)
        view.addSeparator()
        alerts = QAction("&Alerts…", self, shortcut=QKeySequence("Ctrl+Shift+A"))
        alerts.setToolTip("What to be told about: a queue that waits or grows, failures, ...")
        alerts.triggered.connect(self.edit_alert_rules)
        view.addAction(alerts)
        view.addMenu(self.notifier.mode_menu())
        self.rerun_action = QAction("Re-run &interrupted tasks that declared retries", self)
        self.rerun_action.setCheckable(True)
        self.rerun_action.setToolTip(
            "When a consumer dies mid-task, put its tasks that declared retries back on "
            "the queue; otherwise only record them as interrupted"
        )
        self.rerun_action.setChecked(self.settings.value("recovery/rerun", True, type=bool))
        self.rerun_action.toggled.connect(self._set_rerun)
        view.addAction(self.rerun_action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About Huey Desk", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Huey Desk",
            f"<b>Huey Desk</b> {__version__}<br>"
            "A desktop monitor and dispatcher for Huey task queues.",
        )

    # -- actions on tasks --------------------------------------------------------------
    def _queue_action(self, action: str) -> None:
        if action == "flush":
            self._flush()
            return
        ids = self.selected_queue_ids()
        if not ids:
            self.statusBar().showMessage("Select tasks in the queue first.", 5000)
            return
        self._act(action, ids)

    def selected_queue_ids(self) -> list[str]:
        """Ids of the tasks selected in the queue table."""
        return self.queue_panel.selected_ids()

    def _act(self, action: str, ids: list[str]) -> None:
        """Revoke or restore tasks off the GUI thread; report in the status bar."""
        call = getattr(self.dispatcher, action)

        def run() -> int:
            for task_id in ids:
                call(task_id)
            return len(ids)

        done = {"revoke": "Revoked", "restore": "Restored", "run_now": "Moved to run now"}[action]
        run_job(
            run, lambda n: self._acted(f"{done} {n} task{'s' if n != 1 else ''}."), self._acted
        )

    def retry(self, task_id: str) -> None:
        """Run a task again with the same arguments: an interrupted one from the message
        its dead consumer left (same id), any other as a new task."""
        dispatcher = self.dispatcher

        def again() -> str:
            return dispatcher.retry(task_id)  # the one rule: kept message, else a new task

        def done(new_id: str) -> None:
            if new_id == task_id:
                self._acted(f"Re-running {task_id[:8]}.")
            else:
                self._acted(f"Retried {task_id[:8]} as {new_id}.")

        run_job(again, done, self._acted)

    def _set_rerun(self, on: bool) -> None:
        self.settings.setValue("recovery/rerun", on)
        if self._monitor is not None:
            self._monitor.rerun_interrupted = on  # a bool the monitor reads once a second
        if self.consumer is not None:
            self.consumer.rerun_interrupted = on
            if self.consumer.state in ("starting", "running"):
                self.statusBar().showMessage(
                    "The consumer follows the new choice from its next start (Restart).", 8000
                )

    def _recovered(self, report: dict) -> None:
        interrupted = report["interrupted"]
        rerun = len(report["rerun"])
        if interrupted:
            n = len(interrupted)
            again = f"; {rerun} put back on the queue" if rerun else ""
            self.statusBar().showMessage(
                f"A consumer died with work in hand: {n} task{'s' if n != 1 else ''} "
                f"interrupted{again}.",
                15_000,
            )

    def confirm(self, question: str) -> bool:
        """Ask yes or no (tests replace this; a modal dialog cannot be answered there)."""
        answer = QMessageBox.question(self, "Huey Desk", question)
        return answer == QMessageBox.StandardButton.Yes

    def _flush(self) -> None:
        if not self.confirm("Delete every pending and scheduled task? This cannot be undone."):
            return
        run_job(self.dispatcher.flush, lambda _r: self._acted("Flushed the queue."), self._acted)

    def _acted(self, message: str) -> None:
        self.statusBar().showMessage(message, 10_000)
        self.refresh_requested.emit()
        self.details.refresh()

    # -- monitor signals ---------------------------------------------------------------
    def connect_monitor(self, monitor: Monitor) -> None:
        self._monitor = monitor
        monitor.rerun_interrupted = self.rerun_action.isChecked()
        monitor.recovered.connect(self._recovered)
        model = self.tasks_model
        model.query_requested.connect(monitor.open_history)
        model.fetch_requested.connect(monitor.load_history)
        monitor.history_opened.connect(model.on_opened)
        monitor.history_counted.connect(model.on_counted)
        monitor.history_block.connect(model.on_block)
        monitor.tasks_changed.connect(model.apply)
        monitor.tasks_changed.connect(self.results_panel.refresh_details_for)
        monitor.events_arrived.connect(self.notifier.on_events)
        monitor.alerts_changed.connect(self.alerts_panel.apply)
        monitor.alerts_changed.connect(self.notifier.on_alerts)
        monitor.events_arrived.connect(self.charts.on_events)
        monitor.status_changed.connect(self.charts.on_status)
        monitor.status_changed.connect(self.notifier.on_status)
        queue = self.queue_model
        queue.query_requested.connect(monitor.open_queue)
        queue.fetch_requested.connect(monitor.load_queue)
        monitor.queue_opened.connect(queue.on_opened)
        monitor.queue_resized.connect(queue.on_resized)
        monitor.queue_block.connect(queue.on_block)
        monitor.status_changed.connect(self._status)
        monitor.failed.connect(self._show_failure)  # a method: runs on the GUI thread
        monitor.syncing.connect(self._show_syncing)
        self.refresh_requested.connect(monitor.refresh)
        self.watch_pid.connect(monitor.watch_process)
        # the first windows (every task, newest first; the whole queue), once it runs
        monitor.ready.connect(self._open_windows)

    def edit_alert_rules(self) -> None:
        """View → Alerts…: change the rules; saved for the window and huey-desk watch."""
        dialog = AlertRulesDialog(load_rules(), self)
        if dialog.exec() != AlertRulesDialog.DialogCode.Accepted:
            return
        self.apply_alert_rules(dialog.rules())

    def apply_alert_rules(self, rules: Rules) -> None:
        try:
            save_rules(rules)
        except OSError as exc:
            self.statusBar().showMessage(
                f"The alert rules could not be saved ({exc.strerror or exc}); they apply "
                "until the window closes.",
                10_000,
            )
        if self._monitor is not None:
            self._monitor.alert_rules = rules  # one object, read by the monitor's thread
        self.alerts_panel.show_rules(rules)

    def _show_failure(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)

    def _show_syncing(self, progress: dict) -> None:
        """The first copy of a shared journal: say how far it is, then that it is done."""
        if progress["done"]:
            self.statusBar().showMessage(
                f"The history is up to date ({progress['events']:,} events copied from the "
                "shared journal).",
                10000,
            )
        else:
            self.statusBar().showMessage(
                f"Copying the shared journal into this window's history: "
                f"{progress['events']:,} events so far…"
            )

    def _open_windows(self) -> None:
        self.apply_filter()
        self.queue_panel.apply_filter()

    def apply_filter(self) -> None:
        """Ask the store for the tasks that match the filters chosen."""
        self.results_panel.apply_filter()

    def newest_first(self) -> None:
        """Back to the default order: newest first, with new tasks arriving on top."""
        self.results_panel.newest_first()

    def _status(self, status: dict) -> None:
        self.workers_panel.show_status(status)
        self.queue_panel.show_status(status)
        self.results_panel.show_status(status)
        counts = status["counts"]
        self.counts.setText(
            f"pending {status['pending']:,} · running {status['running']:,} · "
            f"done {counts.get('complete', 0):,} · failed {counts.get('error', 0):,}"
        )

    # -- settings ----------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)
        for name, splitter in self.splitters.items():
            state = self.settings.value(f"window/splitter-{name}")
            if state is not None:
                splitter.restoreState(state)
        for name, view in self.tables.items():
            widths = self.settings.value(f"window/columns-{name}")
            for column, width in enumerate(widths if isinstance(widths, list) else []):
                if str(width).isdigit() and int(width) > 0:
                    view.setColumnWidth(column, int(width))

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        for name, splitter in self.splitters.items():
            self.settings.setValue(f"window/splitter-{name}", splitter.saveState())
        for name, view in self.tables.items():
            header = view.horizontalHeader()
            # the last column stretches to the edge: its width is the window's, not a choice
            widths = [header.sectionSize(c) for c in range(header.count() - 1)]
            self.settings.setValue(f"window/columns-{name}", widths)
        self.settings.sync()

    def open_task(self, task_id: str) -> None:
        """Bring the window up on one task (a clicked notification)."""
        self.show()
        self.raise_()
        self.activateWindow()
        if task_id:
            self.details.show_task(task_id)

    def quit(self) -> None:
        """Quit for real (the tray's Quit, Ctrl+Q), not just hide to the tray."""
        self.quitting = True
        self.close()
        QApplication.quit()

    def changeEvent(self, event: Any) -> None:
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.notifier.seen()
        super().changeEvent(event)

    def closeEvent(self, event: Any) -> None:
        self.save_settings()
        if self.notifier.tray is not None and not self.quitting:
            event.ignore()
            self.hide()
            if not self._told_about_tray:
                self._told_about_tray = True
                self.notifier.notify(
                    "Huey Desk is still running",
                    "It keeps watching from the tray; Quit is in its menu.",
                    "",
                )
            return
        super().closeEvent(event)
