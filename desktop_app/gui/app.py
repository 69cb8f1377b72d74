"""Start the window: load the target, start the monitor and (unless told not to) a consumer."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from desktop_app.core.backends import journal_for
from desktop_app.core.catalogue import Catalogue
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.errors import UserError
from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import Journal, SqliteJournal
from desktop_app.core.paths import default_db_path, mirror_path_for
from desktop_app.core.storage_errors import QueueFileError
from desktop_app.core.target import DEFAULT_TARGET, Target, load_target
from desktop_app.core.timeline import TimelineReader

CHOOSE_ANOTHER = "Choose another…"


class Desk:
    """Everything one window needs, made and torn down together (tests use it too)."""

    def __init__(
        self,
        target: Target,
        journal_path: str,
        *,
        workers: int = 2,
        start_consumer: bool = True,
        paths: tuple[str, ...] = (),
        shared: Journal | None = None,
    ) -> None:
        """``journal_path``: the SQLite journal the history is read from; ``shared``: the
        journal consumers on every machine write (Redis), of which that file is a local
        copy kept by the monitor (None: the file is the journal itself)."""
        from desktop_app.gui.consumer_process import ConsumerProcess
        from desktop_app.gui.main_window import MainWindow
        from desktop_app.gui.monitor import Monitor
        from desktop_app.gui.monitor_thread import MonitorThread

        self.target = target
        self.journal_path = journal_path
        self.journal: Journal = shared if shared is not None else SqliteJournal(journal_path)
        catalogue = Catalogue(target.huey)
        dispatcher = Dispatcher(target.huey, self.journal, catalogue)
        # a consumer on a shared journal finds it as every other machine's does
        consumer_journal = journal_path if shared is None else None
        self.consumer = (
            ConsumerProcess(target.spec, workers, paths, consumer_journal)
            if start_consumer
            else None
        )
        inspector = Inspector(target.huey, self.journal, target.spec)
        self.window = MainWindow(target, catalogue, dispatcher, self.consumer, inspector)
        self.monitor = Monitor(target.huey, journal_path, target.spec, shared=shared)
        self.window.connect_monitor(self.monitor)
        self.window.timeline.set_reader(TimelineReader(journal_path, shared).read)
        self.thread = MonitorThread(self.monitor)

    def start(self) -> None:
        self.thread.start()
        if self.consumer is not None:
            self.consumer.start()
        self.window.show()
        self.window.metrics.restore()

    def shutdown(self, stop_timeout_ms: int | None = None) -> None:
        """Stop the consumer gracefully (its running tasks finish, up to a timeout; then
        it is killed and what it ran is recorded as interrupted), stop the monitor,
        close the window."""
        self.window.quitting = True
        self.window.results_panel.runner.cancel_and_wait()  # a bulk action: its chunk ends
        killed = False
        if self.consumer is not None:
            if self.consumer.state in ("starting", "running"):
                self.window.statusBar().showMessage(
                    "Stopping the consumer: waiting for its running tasks to finish…"
                )
                self.window.repaint()  # seen now: the wait below blocks the event loop
            if stop_timeout_ms is None:
                killed = self.consumer.wait_stopped()
            else:
                killed = self.consumer.wait_stopped(stop_timeout_ms)
        self.thread.shutdown()
        self.window.metrics.close()
        self.window.save_settings()
        self.window.close()
        if killed:
            self._record_unfinished()
        self.window.deleteLater()
        self.journal.close()

    def _record_unfinished(self, within_s: float = 5.0) -> None:
        """After killing the consumer at exit: journal its unfinished tasks as interrupted
        now, not at the next start (recovery waits until the dead consumer's journal
        writer has been silent a moment, so this polls for a few seconds at most)."""
        from desktop_app.core.inflight import recover

        rerun = self.window.rerun_action.isChecked()
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                report = recover(self.target.huey, self.journal, rerun=rerun)
            except UserError:
                return
            if report.interrupted:
                return
            time.sleep(0.1)  # polling a dead process's silence at exit, not a guess


def ask_for_queue_file(
    message: str, can_choose: bool, parent: QWidget | None = None
) -> str | None:
    """Tell the user the queue cannot be used; return another file they pick, or None to quit."""
    while True:
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Huey Desk: the queue cannot be opened")
        box.setText(message)
        choose = box.addButton(CHOOSE_ANOTHER, QMessageBox.ButtonRole.AcceptRole)
        choose.setEnabled(can_choose)
        if not can_choose:
            box.setInformativeText(
                "The queue file is set in the module given with --huey; fix it there."
            )
        quit_button = box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(choose if can_choose else quit_button)
        box.exec()
        if box.clickedButton() is not choose or not can_choose:
            return None
        start = str(default_db_path().parent)
        path, _ = QFileDialog.getSaveFileName(
            parent,
            "Choose a queue file (an existing queue, or a new name)",
            start,
            "SQLite queue (*.db *.sqlite *.sqlite3);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            return path


def load_target_or_ask(
    spec: str | None, paths: Sequence[str] = (), must_exist: bool = False
) -> Target | None:
    """Load the target; when its queue file is unusable, offer another file or quitting.

    Another file can be offered only for the embedded default queue, whose file is named
    by ``HUEY_DESK_DB`` (set here for this process and the consumer it starts).
    """
    spec = spec or DEFAULT_TARGET
    while True:
        try:
            return load_target(spec, paths, must_exist=must_exist)
        except QueueFileError as exc:
            chosen = ask_for_queue_file(str(exc), can_choose=spec == DEFAULT_TARGET)
            if chosen is None:
                return None
            os.environ["HUEY_DESK_DB"] = chosen


def run_gui(ns: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    from desktop_app.gui.icons import icon
    from desktop_app.gui.system_libraries import xcb_problem

    if not any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        raise UserError(
            "No display to open the window on; run huey-desk in a desktop session "
            "(or use the commands: huey-desk consumer, submit, status)."
        )
    display = os.environ.get("DISPLAY", "")
    local = re.fullmatch(r":(\d+)(\.\d+)?", display)
    if (
        local
        and not os.environ.get("WAYLAND_DISPLAY")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not os.path.exists(f"/tmp/.X11-unix/X{local.group(1)}")
    ):
        raise UserError(f"Cannot reach the display {display}; check DISPLAY.")
    problem = xcb_problem()
    if problem and not QApplication.instance():
        raise UserError(problem)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Huey Desk")
    app.setOrganizationName("huey-desk")
    app.setDesktopFileName("huey-desk")
    app.setWindowIcon(icon())
    from desktop_app.gui.collector import GuiCollector
    from desktop_app.gui.lock_turns import short_turns

    collector = GuiCollector()
    # only watching (--no-consumer): a queue file that does not exist is not created
    if getattr(ns, "redis", None):  # no project code: watch and act, run nothing
        from desktop_app.core.target import load_redis_target

        if ns.huey:
            raise UserError("Give either --huey or --redis, not both.")
        target = load_redis_target(ns.redis, ns.name)
        ns.no_consumer = True
    else:
        target = load_target_or_ask(ns.huey, ns.path, must_exist=ns.no_consumer)
    if target is None:
        return 2
    journal = journal_for(target.huey, ns.journal)
    if isinstance(journal, SqliteJournal):
        journal_path, shared = str(journal.path), None
    else:  # shared by consumers on several machines: the history reads a local copy
        journal_path = str(mirror_path_for(target.huey, journal.location))
        shared = journal
    desk = Desk(
        target,
        journal_path,
        workers=ns.workers or _settings_workers(target) or 2,
        start_consumer=not ns.no_consumer,
        paths=tuple(ns.path),
        shared=shared,
    )
    app.aboutToQuit.connect(desk.shutdown)
    desk.start()
    collector.settle()
    turns_before = short_turns()
    try:
        return app.exec()
    finally:
        sys.setswitchinterval(turns_before)
        collector.stop()


def _settings_workers(target: Target) -> int | None:
    """A Django project's ``settings.HUEY['consumer']['workers']``, as run_huey uses it."""
    from desktop_app.core.target import is_django_spec

    if not is_django_spec(target.spec):
        return None
    from desktop_app.core.django_target import consumer_settings

    workers = consumer_settings(target.spec).get("workers")
    return workers if isinstance(workers, int) and 1 <= workers <= 64 else None
