"""A project that keeps ``./manage.py run_huey`` adds ``desktop_app.django_app`` to
INSTALLED_APPS: run_huey's consumer then journals every task and reports its workers."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.djsite import SITE
from tests.helpers import wait_until

pytestmark = pytest.mark.consumer


def test_run_huey_reports_to_the_journal_with_the_app_installed(djsite):
    djsite.env["DJSITE_DESK_APP"] = "1"
    djsite.env["DJSITE_EMAIL_S"] = "0"
    mail = djsite.cli_json("submit", "send_email", "--args", "[3]")["id"]
    welcome = djsite.cli_json("submit", "send_welcome", "--args", "[4]")["id"]
    log = djsite.data / "run_huey.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(SITE / "manage.py"), "run_huey", "--workers", "1"],
            env=djsite.env,
            cwd=SITE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        workers = wait_until(
            lambda: [w for w in djsite.cli_json("status")["workers"] if w["state"] == "idle"],
            30,
            "run_huey's worker to report",
        )

        def done():
            infos = [djsite.cli_json("show", i) for i in (mail, welcome)]
            return all(i["state"] == "complete" for i in infos) and infos

        infos = wait_until(done, 60, "both tasks to be journalled as done")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, log.read_text()
    assert len(workers) == 1
    assert [i["task"] for i in infos] == ["shop.tasks.send_email", "shop.tasks.send_welcome"]
    assert all(i["started_at"] and i["worker"] for i in infos)
    assert infos[1]["django"]["status"] == "SUCCESSFUL"
    assert infos[1]["result"] == "welcome sent to user 4"
