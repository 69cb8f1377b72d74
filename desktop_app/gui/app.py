"""Start the window: load the target, start the monitor and (unless told not to) a consumer."""

from __future__ import annotations

import argparse
import os
import re
import sys

from desktop_app.core.catalogue import Catalogue
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.errors import UserError
from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import SqliteJournal
from desktop_app.core.paths import journal_path_for
from desktop_app.core.target import DEFAULT_TARGET, Target, load_target


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
    ) -> None:
        from desktop_app.gui.consumer_process import ConsumerProcess
        from desktop_app.gui.main_window import MainWindow, MonitorThread
        from desktop_app.gui.monitor import Monitor

        self.target = target
        self.journal_path = journal_path
        self.journal = SqliteJournal(journal_path)
        catalogue = Catalogue(target.huey)
        dispatcher = Dispatcher(target.huey, self.journal, catalogue)
        self.consumer = (
            ConsumerProcess(target.spec, workers, paths, journal_path) if start_consumer else None
        )
        inspector = Inspector(target.huey, self.journal, target.spec)
        self.window = MainWindow(
            target, journal_path, catalogue, dispatcher, self.consumer, inspector
        )
        self.monitor = Monitor(target.huey, journal_path, target.spec)
        self.window.connect_monitor(self.monitor)
        self.thread = MonitorThread(self.monitor)

    def start(self) -> None:
        self.thread.start()
        if self.consumer is not None:
            self.consumer.start()
        self.window.show()

    def shutdown(self) -> None:
        """Stop the consumer gracefully, stop the monitor, close the window."""
        self.window.quitting = True
        if self.consumer is not None:
            self.consumer.wait_stopped()
        self.thread.shutdown()
        self.window.save_settings()
        self.window.close()
        self.window.deleteLater()
        self.journal.close()


def run_gui(ns: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    from desktop_app.gui.icons import icon

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
    target = load_target(ns.huey or DEFAULT_TARGET, ns.path)
    journal_path = str(ns.journal or journal_path_for(target.huey))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Huey Desk")
    app.setOrganizationName("huey-desk")
    app.setDesktopFileName("huey-desk")
    app.setWindowIcon(icon())
    desk = Desk(
        target,
        journal_path,
        workers=ns.workers,
        start_consumer=not ns.no_consumer,
        paths=tuple(ns.path),
    )
    app.aboutToQuit.connect(desk.shutdown)
    desk.start()
    return app.exec()
