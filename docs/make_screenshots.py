"""Render screenshots of the window with demo data into docs/ (offscreen or under Xvfb).

QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshots.py          # window.png and
    # submit-form.png, details-failed.png, charts.png, alerts.png, timeline.png,
    # workers-resized.png
QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshots.py --scale  # window-1m.png

``--scale`` builds 100,000 pending and 1,000,000 finished tasks first (about two minutes,
the data of ``benchmarks.monitor``) and shows a text filter over them.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
workdir = Path(tempfile.mkdtemp(prefix="huey-desk-shots-"))
os.environ["HUEY_DESK_DB"] = str(workdir / "queue.db")
os.environ["HUEY_DESK_DATA"] = str(workdir / "data")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    from PySide6.QtCore import QPointF, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.alerts import Rules, save_rules
    from desktop_app.core.target import load_target
    from desktop_app.gui.app import Desk

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(workdir))
    # thresholds low enough for the demo's few tasks to set two alerts off
    save_rules(Rules(deeper_than=3, failures_n=0, failures_minutes=10.0))
    app = QApplication(sys.argv[:1])
    target = load_target("tasks:huey")
    desk = Desk(target, str(workdir / "queue.db.desk-journal"), workers=2)
    dispatcher = desk.window.submit_panel.dispatcher
    for i in range(6):
        dispatcher.submit("send_email", [100 + i], {"seconds": 0.5})
    dispatcher.submit("always_fail", ["the SMTP server refused the login"])
    dispatcher.submit("flaky", [], {"fail_times": 1})
    dispatcher.submit("crunch_report", [200_000], {"kind": "detailed"})
    dispatcher.submit("sleep_for", [60])
    dispatcher.submit("send_email", [7], {"seconds": 120})
    dispatcher.submit("make_thumbnail", ["holiday.jpg"], delay=3600)
    for i in range(4):
        dispatcher.submit("noop", [], delay=600 + i)
    desk.window.submit_panel.select_task("send_email")
    desk.start()
    desk.window.resize(1400, 880)

    def shoot() -> None:
        model = desk.window.tasks_model
        states = {r.get("state") for r in model.loaded_rows()}
        if not ({"complete", "error", "executing"} <= states) and shoot.tries < 150:
            shoot.tries += 1
            QTimer.singleShot(200, shoot)
            return
        QTimer.singleShot(1200, finish)

    window = desk.window

    def save(widget, name: str) -> None:
        path = HERE / name
        widget.grab().save(str(path))
        print(f"wrote {path}")

    def finish() -> None:
        view = window.results_view
        for row in range(view.model().rowCount()):
            if view.model().index(row, 0).data() == "failed":
                view.setCurrentIndex(view.model().index(row, 0))
                break
        QTimer.singleShot(800, grab)

    def grab() -> None:
        bar = window.log.verticalScrollBar()
        print(f"consumer output at {bar.value()} of {bar.maximum()}")
        save(window, "window.png")
        save(window.results_panel, "details-failed.png")
        panel = window.submit_panel
        panel.select_task("crunch_report")
        panel.findChild(object, "param-since-none").setChecked(False)
        window.workers_panel.findChild(object, "workers-tabs").setCurrentIndex(1)
        QTimer.singleShot(1500, charts)  # the new form's widgets are shown by then too

    def charts() -> None:
        save(window.submit_panel, "submit-form.png")

        save(window.workers_panel, "charts.png")
        tabs = window.workers_panel.findChild(object, "workers-tabs")
        tabs.setCurrentIndex(tabs.indexOf(window.alerts_panel))
        QTimer.singleShot(800, alerts)

    def alerts() -> None:
        save(window.workers_panel, "alerts.png")
        tabs = window.workers_panel.findChild(object, "workers-tabs")
        tabs.setCurrentIndex(tabs.indexOf(window.timeline))
        window.timeline.show_last(20)  # the demo's runs are seconds old
        QTimer.singleShot(2000, timeline)

    def timeline() -> None:
        # the last minute's runs, the pointer resting on the failed one
        panel = window.timeline
        failed = [r for r in panel.page.runs if r.state == "error"]
        if failed:
            run = failed[0]
            y = panel.lanes().index(run.lane)
            panel.hovered = None
            point = panel.plot.getViewBox().mapViewToScene(QPointF((run.start + run.end) / 2, y))
            panel._moved(point)
        save(window.workers_panel, "timeline.png")
        window.workers_panel.findChild(object, "workers-tabs").setCurrentIndex(0)
        window.worker_count.setValue(3)  # applied: the consumer restarts with 3 workers
        resized.tries = 0
        QTimer.singleShot(1000, resized)

    def resized() -> None:
        rows = [window.workers_model.row(i) for i in range(window.workers_model.rowCount())]
        live = [r for r in rows if r["state"] in ("idle", "busy")]
        if len(live) != 3 and resized.tries < 150:
            resized.tries += 1
            QTimer.singleShot(200, resized)
            return
        save(window.workers_panel, "workers-resized.png")
        desk.shutdown(stop_timeout_ms=5000)
        app.quit()

    shoot.tries = 0
    QTimer.singleShot(500, shoot)
    return app.exec()


def at_scale() -> int:
    """The window on 100,000 pending and 1,000,000 finished tasks, filtered by text."""
    import time

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from benchmarks.monitor import build
    from desktop_app.core.target import load_target
    from desktop_app.gui.app import Desk

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(workdir))
    build(workdir, 100_000, 1_000_000)
    app = QApplication(sys.argv[:1])
    desk = Desk(load_target("tasks:huey"), str(workdir / "journal.sqlite"), start_consumer=False)
    desk.start()
    desk.window.resize(1400, 880)
    model = desk.window.tasks_model

    def wait(ready, seconds: float = 60.0) -> None:
        end = time.monotonic() + seconds
        while not ready() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)  # a script's event loop, not a test

    wait(lambda: model.row(0) is not None and desk.window.queue_model.row(0) is not None)
    desk.window.text_filter.setText("mailbox 17")
    desk.window.apply_filter()
    generation = model.generation
    wait(lambda: model.shown_generation == generation and model.row(0) is not None)
    wait(lambda: False, 1.5)  # counts and status settle
    path = HERE / "window-1m.png"
    desk.window.grab().save(str(path))
    print(f"wrote {path}")
    desk.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(at_scale() if "--scale" in sys.argv[1:] else main())
