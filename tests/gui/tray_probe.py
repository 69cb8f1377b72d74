"""Run on a real X display with a tray host: show the tray icon and one notification."""

from __future__ import annotations

import json
import sys
import time

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QSystemTrayIcon

from desktop_app.gui.tray import Notifier


class Window(QMainWindow):
    consumer = None

    def quit(self) -> None:
        QApplication.quit()


def main() -> int:
    shot = sys.argv[1]
    app = QApplication(sys.argv[:1])
    deadline = time.monotonic() + 15
    while not QSystemTrayIcon.isSystemTrayAvailable() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.1)  # the tray host registers itself; poll for it  # noqa: sleep-ok
    window = Window()
    notifier = Notifier(window, QSettings("huey-desk-tests", "tray"))
    result = {
        "available": QSystemTrayIcon.isSystemTrayAvailable(),
        "tray": notifier.tray is not None,
    }
    if notifier.tray is not None:
        result["visible"] = notifier.tray.isVisible()
        result["messages"] = notifier.tray.supportsMessages()
    told = []
    notifier.notified.connect(lambda *args: told.append(list(args)))
    notifier.on_events(
        [
            {
                "kind": "error",
                "task_id": "t-1",
                "task_name": "tasks.demo.always_fail",
                "data": {"error": "RuntimeError('boom')", "retries": 0},
            }
        ]
    )
    result["told"] = told
    result["tooltip"] = notifier.tray.toolTip() if notifier.tray else None

    def grab() -> None:
        screen = app.primaryScreen()
        result["shot"] = screen.grabWindow(0).save(shot)
        print(json.dumps(result))
        app.quit()

    QTimer.singleShot(1500, grab)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
