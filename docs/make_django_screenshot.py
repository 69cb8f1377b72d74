"""Render docs/window-django.png: the window on the test Django project (tests/targets/djsite).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_django_screenshot.py

The project is migrated into a temporary folder, its view is asked for a few sign-ups
(each enqueues send_email), django.tasks and database tasks are submitted, and the
window (``--django djsite.settings``, its consumer sized by settings.HUEY['consumer'])
is grabbed once tasks have run, failed and are running.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SITE = ROOT / "tests" / "targets" / "djsite"
sys.path.insert(0, str(ROOT))
workdir = Path(tempfile.mkdtemp(prefix="huey-desk-django-shot-"))
os.environ["HUEY_DESK_DATA"] = str(workdir / "data")
os.environ["DJSITE_DATA"] = str(workdir)
os.environ["DJSITE_HUEY"] = "sqlite"
os.environ["DJSITE_EMAIL_S"] = "2"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    subprocess.run(
        [sys.executable, str(SITE / "manage.py"), "migrate", "--no-input", "-v0"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "djsite.settings"},
        check=True,
    )
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.backends import journal_for
    from desktop_app.core.target import load_target
    from desktop_app.gui.app import Desk

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(workdir))
    app = QApplication(sys.argv[:1])
    target = load_target("django:djsite.settings", [str(SITE)])
    journal = journal_for(target.huey, None)
    desk = Desk(target, str(journal.path), workers=2, paths=(str(SITE),))
    journal.close()
    window = desk.window

    from django.test import Client
    from shop.models import Order

    orders = [Order.objects.create(customer=name).pk for name in ("ada", "grace", "alan")]
    dispatcher = window.submit_panel.dispatcher
    dispatcher.submit("send_welcome", [41])
    dispatcher.submit("refund", [404], {"amount": "12.50"})
    dispatcher.submit("mark_paid", [orders[0]])
    dispatcher.submit("ship", [orders[1]])
    for user in (101, 102, 103, 104, 105):
        Client().get(f"/signup/{user}/")  # the project's own view enqueues send_email
    dispatcher.submit("send_welcome", [42], delay=3600)
    window.notifier.set_mode("all")
    window.submit_panel.select_task("send_welcome")
    desk.start()
    window.resize(1400, 880)

    def wait(ready, seconds: float = 60.0) -> None:
        end = time.monotonic() + seconds
        while not ready() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)  # a script's event loop, not a test

    def states() -> set:
        return {r.get("state") for r in window.tasks_model.loaded_rows()}

    wait(lambda: {"complete", "error", "executing"} <= states())
    view = window.results_view
    for row in range(view.model().rowCount()):
        if "refund" in str(view.model().index(row, 1).data()):
            view.setCurrentIndex(view.model().index(row, 0))
            break
    wait(lambda: False, 1.5)  # details, counts and charts settle
    window.details.tabs.setCurrentIndex(1)  # the facts: what Django knows of the task
    wait(lambda: False, 0.3)
    path = HERE / "window-django.png"
    window.grab().save(str(path))
    print(f"wrote {path}")
    desk.shutdown(stop_timeout_ms=5000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
