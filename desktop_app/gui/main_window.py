"""The main window: submit panel beside a dashboard of queue, workers and results."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QEvent, QSettings, QSortFilterProxyModel, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app import __version__
from desktop_app.core.history import TaskQuery
from desktop_app.gui.charts import ChartsPanel
from desktop_app.gui.consumer_process import LOG_LINES, ConsumerProcess
from desktop_app.gui.details import TaskDetails
from desktop_app.gui.jobs import run_job
from desktop_app.gui.models import Role, WorkersModel, seconds
from desktop_app.gui.monitor import Monitor
from desktop_app.gui.queue_table import QueueModel
from desktop_app.gui.submit_panel import SubmitPanel
from desktop_app.gui.task_history import TasksModel
from desktop_app.gui.tray import Notifier

LOG_FLUSH_MS = 100  # the consumer's output reaches the log view at most this often
FILTER_DELAY_MS = 150  # typing pause after which the tasks filter is applied
TRANSIENT_STATES = ("enqueued", "scheduled", "executing", "retrying")
FOLLOW_EVERY_S = 2.0  # a view of a transient state is read again at most this often
RESULT_STATES = (
    "all",
    "complete",
    "error",
    "executing",
    "retrying",
    "interrupted",
    "revoked",
    "expired",
    "enqueued",
    "scheduled",
)


def table(
    model: Any, name: str, widths: tuple[int, ...] = (), sorted_here: bool = True
) -> QTableView:
    """A table view on ``model``; ``sorted_here``: through a sorting, filtering proxy (small
    tables), else straight on the model (which pages and filters in the store)."""
    view = QTableView()
    view.setObjectName(name)
    if sorted_here:
        proxy = QSortFilterProxyModel(model)
        proxy.setSourceModel(model)
        proxy.setSortRole(Role.SORT)
        proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        proxy.setFilterKeyColumn(-1)
        view.setModel(proxy)
        view.setSortingEnabled(True)
    else:
        view.setModel(model)
        # every row the same height: the view never measures rows it does not draw
        view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(22)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the model's order until asked
    for column, width in enumerate(widths):
        view.setColumnWidth(column, width)
    return view


class ProgressDelegate(QStyledItemDelegate):
    """Draws a busy worker's progress as a progress bar with its note."""

    def paint(self, painter: Any, option: Any, index: Any) -> None:
        row = index.data(Role.ROW) or {}
        value = row.get("progress")
        if row.get("state") != "busy" or value is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 100
        bar.progress = round(value * 100)
        bar.text = index.data() or ""
        bar.textVisible = True
        bar.state = option.state
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class Panel(QWidget):
    """A titled box around a view, with a count in the title."""

    def __init__(self, title: str, body: QWidget, tools: QWidget | None = None) -> None:
        super().__init__()
        self.title = title
        self.label = QLabel(f"<b>{title}</b>")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.label)
        if tools is not None:  # on a line of their own: the panel stays narrow
            layout.addWidget(tools)
        layout.addWidget(body)

    def set_count(self, text: str) -> None:
        self.label.setText(f"<b>{self.title}</b> {text}")


class MainWindow(QMainWindow):
    """Huey Desk's window."""

    refresh_requested = Signal()
    watch_pid = Signal(int)  # the consumer this window runs, for its CPU and memory

    def __init__(
        self,
        target: Any,
        journal_path: str,
        catalogue: Any,
        dispatcher: Any,
        consumer: ConsumerProcess | None,
        inspector: Any = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle(f"Huey Desk — {target.spec}")
        self.target = target
        self.consumer = consumer
        self.dispatcher = dispatcher
        self.settings = QSettings("huey-desk", "huey-desk")

        self.tasks_model = TasksModel(self)
        self.queue_model = QueueModel(self)
        self.workers_model = WorkersModel(self)

        # submit
        self.submit_panel = SubmitPanel(catalogue, dispatcher, inspector=inspector)
        self.submit_panel.submitted.connect(lambda _id: self.refresh_requested.emit())

        # queue
        self.queue_view = table(
            self.queue_model, "queue-view", (80, 120, 160, 60, 80, 140), sorted_here=False
        )
        self.queue_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        queue_tools = QWidget()
        q = QHBoxLayout(queue_tools)
        q.setContentsMargins(0, 0, 0, 0)
        self.revoke_button = QPushButton("Revoke")
        self.revoke_button.setToolTip("Revoke the selected tasks (Delete)")
        self.restore_button = QPushButton("Restore")
        self.run_now_button = QPushButton("Run now")
        self.run_now_button.setToolTip("Run the selected delayed or scheduled tasks now")
        self.run_now_button.clicked.connect(lambda: self._queue_action("run_now"))
        self.flush_button = QPushButton("Flush…")
        self.flush_button.setToolTip("Delete every pending and scheduled task")
        self.queue_filter = QLineEdit(placeholderText="Filter: task, arguments, id")
        self.queue_filter.setObjectName("queue-filter")
        self.queue_filter.setClearButtonEnabled(True)
        self._queue_filter_timer = QTimer(self)
        self._queue_filter_timer.setSingleShot(True)
        self._queue_filter_timer.setInterval(FILTER_DELAY_MS)
        self._queue_filter_timer.timeout.connect(
            lambda: self.queue_model.set_text(self.queue_filter.text())
        )
        self.queue_filter.textChanged.connect(self._queue_filter_timer.start)
        q.addWidget(self.queue_filter)
        for b in (self.run_now_button, self.revoke_button, self.restore_button, self.flush_button):
            q.addWidget(b)
        self.revoke_button.clicked.connect(lambda: self._queue_action("revoke"))
        self.restore_button.clicked.connect(lambda: self._queue_action("restore"))
        self.flush_button.clicked.connect(self._flush)
        self.queue_panel = Panel("Queue", self.queue_view, queue_tools)

        # workers + consumer control + log
        self.workers_view = table(self.workers_model, "workers-view", (60, 80, 70, 120, 70, 160))
        self.workers_view.setItemDelegateForColumn(5, ProgressDelegate(self.workers_view))
        controls = QWidget()
        lines = QVBoxLayout(controls)
        lines.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.consumer_state = QLabel("consumer: not started here")
        self.consumer_state.setObjectName("consumer-state")
        self.consumer_state.setWordWrap(True)  # a line of its own: long text never overlaps
        self.worker_count = QSpinBox(
            minimum=1, maximum=64, value=consumer.workers if consumer else 2
        )
        self.worker_count.setToolTip("Workers for the consumer this window runs")
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.restart_button = QPushButton("Restart")
        for w in (
            QLabel("workers"),
            self.worker_count,
            self.start_button,
            self.stop_button,
            self.restart_button,
        ):
            row.addWidget(w)
        row.addStretch(1)
        lines.addWidget(self.consumer_state)
        lines.addLayout(row)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setObjectName("consumer-log")
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("The consumer's output appears here.")
        self.charts = ChartsPanel()
        below = QTabWidget()
        below.setObjectName("workers-tabs")
        self.log_level = QComboBox()
        self.log_level.setObjectName("log-level")
        self.log_level.addItems(["All output", "Warnings and errors"])
        self.log_level.currentIndexChanged.connect(self._rerender_log)
        self._keep_following = True
        self._log_buffer: list[str] = []
        self._log_timer = QTimer(self)
        self._log_timer.setSingleShot(True)
        self._log_timer.setInterval(LOG_FLUSH_MS)
        self._log_timer.timeout.connect(self._flush_log)
        output = QWidget()
        output_layout = QVBoxLayout(output)
        output_layout.setContentsMargins(0, 0, 0, 0)
        output_layout.addWidget(self.log_level)
        output_layout.addWidget(self.log)
        below.addTab(output, "Consumer output")
        below.addTab(self.charts, "Charts")
        workers_box = QSplitter(Qt.Orientation.Vertical)
        workers_box.addWidget(self.workers_view)
        workers_box.addWidget(below)
        workers_box.setSizes([220, 280])
        self.workers_panel = Panel("Workers", workers_box, controls)

        # results: a window on the journal's history, filtered in the store
        self.results_view = table(
            self.tasks_model, "results-view", (90, 130, 220, 80, 80, 80, 320), sorted_here=False
        )
        # Sorting by a column runs in the store; no indicator: newest first, live.
        header = self.results_view.horizontalHeader()
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
        self.results_view.setSortingEnabled(True)
        header.sortIndicatorChanged.connect(self._sort_changed)
        self.tasks_model.sort_refused.connect(self._sort_refused)
        tools = QWidget()
        t = QHBoxLayout(tools)
        t.setContentsMargins(0, 0, 0, 0)
        self.state_combo = QComboBox()
        self.state_combo.setObjectName("state-filter")
        self.state_combo.addItems(RESULT_STATES)
        self.task_combo = QComboBox()
        self.task_combo.setObjectName("task-filter")
        self.task_combo.addItem("all tasks", None)
        for entry in catalogue:
            self.task_combo.addItem(entry.short_name, entry.name)
        self.text_filter = QLineEdit(placeholderText="Filter: id, task, arguments, error")
        self.text_filter.setObjectName("results-filter")
        self.text_filter.setClearButtonEnabled(True)
        # Typing restarts a short wait; the store is asked once the typing pauses.
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.text_filter.textChanged.connect(self._filter_timer.start)
        self.state_combo.currentTextChanged.connect(self.apply_filter)
        self.task_combo.currentIndexChanged.connect(self.apply_filter)
        t.addWidget(self.state_combo)
        t.addWidget(self.task_combo)
        t.addWidget(self.text_filter)
        self.details = TaskDetails(inspector)
        self.details.retry_requested.connect(self.retry)
        self.details.revoke_requested.connect(lambda task_id: self._act("revoke", [task_id]))
        self.details.edit_requested.connect(self.submit_panel.prefill)
        self.results_view.selectionModel().currentRowChanged.connect(self._show_selected)
        results_box = QSplitter(Qt.Orientation.Horizontal)
        results_box.addWidget(self.results_view)
        results_box.addWidget(self.details)
        results_box.setStretchFactor(0, 3)
        results_box.setStretchFactor(1, 2)
        self.results_panel = Panel("Tasks", results_box, tools)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.queue_panel)
        top.addWidget(self.workers_panel)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(self.results_panel)
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
            "workers": workers_box,
        }

        self.counts = QLabel()
        self.counts.setObjectName("counts")
        self.statusBar().addPermanentWidget(self.counts)
        self.quitting = False
        self._told_about_tray = False
        self.notifier = Notifier(self, self.settings)
        self.notifier.open_task.connect(self.open_task)
        self._monitor: Monitor | None = None
        self._next_follow = 0.0
        self._menus()
        if consumer is not None:
            consumer.rerun_interrupted = self.rerun_action.isChecked()
        self._wire_consumer()
        self._restore()

    # -- menus and consumer control ----------------------------------------------------
    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.quit)
        file_menu.addAction(quit_action)
        view = self.menuBar().addMenu("&View")
        find = QAction("&Find in tasks", self, shortcut=QKeySequence.StandardKey.Find)
        find.triggered.connect(lambda: self.text_filter.setFocus())
        view.addAction(find)
        retry = QAction("&Retry selected task", self, shortcut=QKeySequence("Ctrl+R"))
        retry.triggered.connect(lambda: self.details.task_id and self.retry(self.details.task_id))
        view.addAction(retry)
        revoke = QAction(
            "Re&voke selected queued tasks",
            self,
            shortcut=QKeySequence(QKeySequence.StandardKey.Delete),
        )
        revoke.triggered.connect(lambda: self._queue_action("revoke"))
        self.queue_view.addAction(revoke)
        self.queue_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        refresh = QAction("&Refresh", self, shortcut=QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.refresh_requested.emit)
        view.addAction(refresh)
        newest = QAction("&Newest first", self, shortcut=QKeySequence("Ctrl+Shift+N"))
        newest.setToolTip("Tasks in the order they were created, newest on top, live")
        newest.triggered.connect(self.newest_first)
        view.addAction(newest)
        view.addSeparator()
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

    def _wire_consumer(self) -> None:
        consumer = self.consumer
        has = consumer is not None
        for button in (
            self.start_button,
            self.stop_button,
            self.restart_button,
            self.worker_count,
        ):
            button.setEnabled(has)
        if consumer is None:
            self.log.setPlaceholderText("Watching only (--no-consumer): no consumer runs here.")
            return
        self.start_button.clicked.connect(consumer.start)
        self.stop_button.clicked.connect(consumer.stop)
        self.restart_button.clicked.connect(lambda: consumer.restart(self.worker_count.value()))
        consumer.state_changed.connect(self._consumer_state)
        consumer.output.connect(self._append_output)
        self._consumer_state(consumer.state)

    def _wanted(self, line: str) -> bool:
        """Whether ``line`` passes the level filter; a traceback follows its log line."""
        if self.log_level.currentIndex() == 0:
            return True
        if line.startswith("["):  # a new log record: "[time] LEVEL:logger:..."
            self._keep_following = any(
                f"] {level}:" in line for level in ("WARNING", "ERROR", "CRITICAL")
            )
            return self._keep_following
        return self._keep_following  # continuation lines and our own messages

    def _append_output(self, line: str) -> None:
        """Queue a line for the log view; lines are added a batch at a time, because one
        layout pass per line stalled the window when a consumer logged 20,000 lines."""
        if self._wanted(line):
            self._log_buffer.append(line)
            if not self._log_timer.isActive():
                self._log_timer.start()

    def _flush_log(self) -> None:
        lines, self._log_buffer = self._log_buffer[-LOG_LINES:], []
        if lines:
            self.log.appendPlainText("\n".join(lines))

    def _rerender_log(self) -> None:
        self._log_buffer = []
        self.log.clear()
        self._keep_following = True
        if self.consumer is not None:
            for line in list(self.consumer.lines):
                self._append_output(line)
        self._flush_log()

    def _consumer_state(self, state: str) -> None:
        pid = self.consumer.pid if self.consumer else None
        self.consumer_state.setText(f"consumer: {state}" + (f" (pid {pid})" if pid else ""))
        running = state in ("starting", "running")
        self.start_button.setEnabled(not running and state != "stopping")
        self.stop_button.setEnabled(running)
        self.watch_pid.emit(pid if state == "running" and pid else 0)

    # -- actions on tasks --------------------------------------------------------------
    def _show_selected(self, current: Any, _previous: Any = None) -> None:
        row = current.data(Role.ROW) if current.isValid() else None
        self.details.show_task(row.get("task_id") if row else None)

    def selected_queue_ids(self) -> list[str]:
        rows = [i.data(Role.ROW) for i in self.queue_view.selectionModel().selectedRows()]
        return [r["id"] for r in rows if r and r.get("id")]  # rows not read yet are skipped

    def _queue_action(self, action: str) -> None:
        ids = self.selected_queue_ids()
        if not ids:
            self.statusBar().showMessage("Select tasks in the queue first.", 5000)
            return
        self._act(action, ids)

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
        monitor.tasks_changed.connect(self._maybe_refresh_details)
        monitor.events_arrived.connect(self.notifier.on_events)
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
        self.refresh_requested.connect(monitor.refresh)
        self.watch_pid.connect(monitor.watch_process)
        # the first windows (every task, newest first; the whole queue), once it runs
        monitor.ready.connect(self._open_windows)

    def _sort_changed(self, column: int, _order: Qt.SortOrder) -> None:
        if column >= 0 and not self.tasks_model.query.live:
            self.statusBar().showMessage(
                "Sorted in the store: new tasks appear again in the default order "
                "(View → Newest first).",
                6000,
            )

    def _follow_transient_state(self, states: dict) -> None:
        """A view of one transient state (enqueued, executing...) is read again when the
        number of tasks in that state changed: its tasks leave it all the time, and rows
        counted by offset would shift under the view.  At most every few seconds."""
        query = self.tasks_model.query
        if query.state not in TRANSIENT_STATES or query.text or query.task_name:
            return
        now = time.monotonic()
        if (
            now < self._next_follow
            or self.tasks_model.shown_generation != self.tasks_model.generation
        ):
            return
        if states.get(query.state, 0) != self.tasks_model.rowCount():
            self._next_follow = now + FOLLOW_EVERY_S
            self.tasks_model.refresh()

    def _sort_refused(self, why: str) -> None:
        self.statusBar().showMessage(why, 8000)
        header = self.results_view.horizontalHeader()
        order = Qt.SortOrder.DescendingOrder
        if self.tasks_model.query.order in self.tasks_model.sort_keys:
            column = self.tasks_model.sort_keys.index(self.tasks_model.query.order)
            if not self.tasks_model.query.descending:
                order = Qt.SortOrder.AscendingOrder
        else:
            column = -1
        header.blockSignals(True)  # show the order in force again, without sorting
        header.setSortIndicator(column, order)
        header.blockSignals(False)
        header.viewport().update()

    def newest_first(self) -> None:
        """Back to the default order: newest first, with new tasks arriving on top."""
        self.results_view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
        self.tasks_model.sort(-1)

    def _show_failure(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)

    def _open_windows(self) -> None:
        self.apply_filter()
        self.queue_model.set_text(self.queue_filter.text())

    def apply_filter(self) -> None:
        """Ask the store for the tasks that match the state, task and text chosen."""
        self._filter_timer.stop()
        state = self.state_combo.currentText()
        current = self.tasks_model.query
        self.tasks_model.set_query(
            TaskQuery(
                state=None if state == "all" else state,
                task_name=self.task_combo.currentData(),
                text=self.text_filter.text().strip(),
                order=current.order,
                descending=current.descending,
            )
        )

    def _maybe_refresh_details(self, rows: list[dict]) -> None:
        shown = self.details.task_id
        if shown and any(r.get("task_id") == shown for r in rows):
            self.details.refresh()

    def _status(self, status: dict) -> None:
        stats = status.get("process")
        if stats and self.consumer is not None and self.consumer.state == "running":
            self.consumer_state.setText(
                f"consumer: running (pid {stats['pid']}) · up {seconds(stats['uptime_s'])}"
                f" · CPU {stats['cpu_percent']:.0f} % · {stats['rss_mb']:.0f} MB"
            )
        self.workers_model.replace(status["workers"])
        matched = ""
        if self.queue_model.text:
            more = "+" if self.queue_model.capped else ""
            matched = f" · {self.queue_model.rowCount():,}{more} match"
        self.queue_panel.set_count(
            f"— {status['pending']:,} pending, {status['scheduled']:,} scheduled{matched}"
        )
        busy = sum(1 for w in status["workers"] if w["state"] == "busy")
        live = sum(1 for w in status["workers"] if w["state"] in ("busy", "idle"))
        self.workers_panel.set_count(f"— {busy} busy of {live}")
        counts = status["counts"]
        model = self.tasks_model
        self._follow_transient_state(status.get("states", {}))
        shown = f"{model.rowCount():,}" + ("" if model.counted else "+")
        self.results_panel.set_count(
            f"— {counts.get('complete', 0):,} complete, {counts.get('error', 0):,} failed"
            f" · {shown} shown"
        )
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

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        for name, splitter in self.splitters.items():
            self.settings.setValue(f"window/splitter-{name}", splitter.saveState())
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


class MonitorThread(QThread):
    """The thread the monitor lives in (named, for leak checks and debugging)."""

    def __init__(self, monitor: Monitor) -> None:
        super().__init__()
        self.setObjectName("huey-desk-monitor")
        monitor.moveToThread(self)
        self.started.connect(monitor.start)
        self.monitor = monitor

    def run(self) -> None:
        """Run the event loop from Python, so the thread keeps one Python thread state.

        With Qt's own ``run`` every slot call into Python made a fresh thread state, so
        ``threading.local`` forgot everything between calls: the journal and Huey's
        storage opened a new SQLite connection on every tick (seen as connection ids
        changing from call to call, and an attached database vanishing).
        """
        self.exec()

    def shutdown(self) -> None:
        from PySide6.QtCore import QMetaObject

        QMetaObject.invokeMethod(self.monitor, "stop", Qt.ConnectionType.BlockingQueuedConnection)
        self.quit()
        self.wait(10_000)
