"""The seed's flow on the real project: a request to the view returns while send_email
is still running in a worker; ``status`` and ``show`` follow it from the queue to a
worker to its result (SQLite and Redis settings.HUEY, a real consumer subprocess)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import wait_until

pytestmark = pytest.mark.consumer


def request_signups(site, users: list[int]) -> list[dict]:
    """GET /signup/<id>/ for each user, through Django's whole request stack, timed."""
    proc = site.django(
        "import json, time\nfrom django.test import Client\nout = []\n"
        f"for user in {users!r}:\n"
        "    t0 = time.monotonic()\n"
        "    r = Client().get(f'/signup/{user}/')\n"
        "    out.append({'elapsed': time.monotonic() - t0, 'status': r.status_code,"
        " 'task': r.json()['task']})\n"
        "print(json.dumps(out))\n"
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_view_answers_at_once_and_the_job_goes_queue_worker_result(djsite):
    gate = djsite.data / "mail-may-finish"
    djsite.env["DJSITE_GATE"] = str(gate)  # send_email runs until this file exists
    consumer = djsite.consumer()  # two workers (settings.HUEY['consumer'])
    try:
        wait_until(
            lambda: (
                len([w for w in djsite.cli_json("status")["workers"] if w["state"] == "idle"]) == 2
            ),
            30,
            "two idle workers",
        )
        answers = request_signups(djsite, [1, 2, 3])
        assert [a["status"] for a in answers] == [200, 200, 200]
        first, second, third = (a["task"] for a in answers)

        def two_running_one_queued():
            status = djsite.cli_json("status")
            busy = {w["task_id"] for w in status["workers"] if w["state"] == "busy"}
            return busy == {first, second} and status["pending"] == 1 and status

        status = wait_until(two_running_one_queued, 30, "two tasks running, one queued")
        assert {w["task"] for w in status["workers"]} == {"shop.tasks.send_email"}
        running = djsite.cli_json("show", first)
        assert running["state"] == "executing"
        assert running["worker"]
        queued = djsite.cli_json("show", third)
        assert queued["state"] == "enqueued"
        assert queued["task"] == "shop.tasks.send_email"
        gate.touch()

        def all_done():
            infos = [djsite.cli_json("show", t) for t in (first, second, third)]
            return all(i["state"] == "complete" for i in infos) and infos

        infos = wait_until(all_done, 60, "the three mails to be sent")
    finally:
        assert consumer.stop() == 0, consumer.output()
    assert [i["result"] for i in infos] == [f"mail sent to user {u}" for u in (1, 2, 3)]
    # the view answered in less time than the job it started took to run
    assert answers[0]["elapsed"] < infos[0]["duration"]
    assert all(i["worker"] for i in infos)
