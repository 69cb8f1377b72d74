"""The window on the real Django project (``--django djsite.settings``): the seed's flow
seen in the window, from the view's request to the queue, a worker, the tasks table and
a notification.

Django can be set up once per process, so this is the one test that sets it up in the
test process; everything it changes (environment, import path) is put back after it.
"""

from __future__ import annotations

import json
import sys

import pytest

from desktop_app.core.backends import journal_for
from desktop_app.core.target import load_target
from desktop_app.gui.app import Desk
from tests.djsite import SETTINGS, SITE, make_site

pytestmark = pytest.mark.consumer
pytest.importorskip("django")


@pytest.fixture
def django_desk(qtbot, tmp_path, monkeypatch):
    site = make_site(tmp_path, "sqlite")
    gate = site.data / "mail-may-finish"
    site.env["DJSITE_GATE"] = str(gate)
    for name in ("DJSITE_DATA", "DJSITE_HUEY", "DJSITE_GATE"):
        monkeypatch.setenv(name, site.env[name])
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", SETTINGS)  # removed again after the test
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(site.data)
    target = load_target(f"django:{SETTINGS}", [str(SITE)])
    journal = journal_for(target.huey, None)
    desk = Desk(target, str(journal.path), workers=2, paths=(str(SITE),))
    journal.close()
    qtbot.addWidget(desk.window)
    desk.start()
    qtbot.waitUntil(lambda: desk.consumer.state == "running", timeout=20_000)
    yield desk, site, gate
    gate.touch()
    desk.shutdown()


def signup(site, user: int) -> dict:
    """GET /signup/<user>/ in the project (its own process), timed."""
    proc = site.django(
        "import json, time\nfrom django.test import Client\nt0 = time.monotonic()\n"
        f"r = Client().get('/signup/{user}/')\n"
        "print(json.dumps({'elapsed': time.monotonic() - t0, 'task': r.json()['task']}))\n"
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_window_follows_the_views_job_from_queue_to_worker_to_done(qtbot, django_desk):
    desk, site, gate = django_desk
    window = desk.window
    window.notifier.set_mode("all")
    names = {
        window.submit_panel.tasks.item(i).text() for i in range(window.submit_panel.tasks.count())
    }
    assert any("send_welcome" in n for n in names)
    assert not any("djtasks" in n for n in names)

    def idle_workers():
        rows = [window.workers_model.row(i) for i in range(window.workers_model.rowCount())]
        assert len([r for r in rows if r["state"] == "idle"]) == 2

    qtbot.waitUntil(idle_workers, timeout=20_000)
    answers = [signup(site, user) for user in (1, 2, 3)]
    first, second, third = (a["task"] for a in answers)

    def two_busy_one_queued():
        rows = [window.workers_model.row(i) for i in range(window.workers_model.rowCount())]
        assert {r["task_id"] for r in rows if r["state"] == "busy"} == {first, second}
        assert {r["task"] for r in rows if r["state"] == "busy"} == {"shop.tasks.send_email"}
        queued = {r["id"]: r for r in window.queue_model.loaded_rows()}
        assert set(queued) == {third}
        assert queued[third]["task"] == "shop.tasks.send_email"

    qtbot.waitUntil(two_busy_one_queued, timeout=20_000)
    with qtbot.waitSignal(
        window.notifier.notified,
        timeout=30_000,
        check_params_cb=lambda title, text, task_id: task_id == first,
    ) as told:
        gate.touch()
    assert told.args[0] == "send_email finished"

    def all_done():
        rows = {r["task_id"]: r for r in window.tasks_model.loaded_rows()}
        assert all(rows.get(t, {}).get("state") == "complete" for t in (first, second, third))

    qtbot.waitUntil(all_done, timeout=30_000)
    rows = {r["task_id"]: r for r in window.tasks_model.loaded_rows()}
    assert rows[first]["task_name"] == "shop.tasks.send_email"
    assert rows[first]["result_preview"] == "'mail sent to user 1'"
    assert answers[0]["elapsed"] < rows[first]["duration"]
