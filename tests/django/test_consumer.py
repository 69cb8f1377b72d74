"""``huey-desk consumer --django``: run_huey's options from settings.HUEY['consumer'] with
flags over them, database tasks that keep their meaning, and everything our consumer
adds (journal, workers' heartbeats), on SQLite and Redis."""

from __future__ import annotations

import json

import pytest

from tests.django.test_attach import refused
from tests.djsite import make_site
from tests.helpers import wait_until

pytestmark = pytest.mark.consumer


def reporting_workers(site) -> list[dict]:
    return [w for w in site.cli_json("status")["workers"] if w["state"] in ("idle", "busy")]


def test_the_consumer_takes_its_options_from_settings_huey(djsite):
    consumer = djsite.consumer()
    try:
        workers = wait_until(lambda: reporting_workers(djsite), 30, "workers to report")
        assert len(workers) == 2  # settings.HUEY['consumer']['workers']
    finally:
        assert consumer.stop() == 0, consumer.output()


def test_flags_override_the_settings(djsite_sqlite):
    consumer = djsite_sqlite.consumer("--workers", "1")
    try:
        workers = wait_until(lambda: reporting_workers(djsite_sqlite), 30, "workers to report")
        assert len(workers) == 1
    finally:
        assert consumer.stop() == 0, consumer.output()


def test_consumer_options_are_checked_as_run_huey_checks_them(djsite_sqlite):
    line = refused(djsite_sqlite.cli("consumer", "--scheduler-interval", "7"))
    assert "The consumer options of settings.HUEY of djsite.settings cannot be used" in line
    assert "factor of 60" in line


def test_database_tasks_touch_the_projects_models(djsite):
    made = djsite.django(
        "import json\nfrom shop.models import Order\n"
        "print(json.dumps([Order.objects.create(customer='ada').pk for _ in range(2)]))\n"
    )
    assert made.returncode == 0, made.stderr
    first, second = json.loads(made.stdout)
    paid = djsite.cli_json("submit", "mark_paid", "--args", f"[{first}]")["id"]
    shipped = djsite.cli_json("submit", "ship", "--args", f"[{second}]")["id"]
    consumer = djsite.consumer()
    try:

        def done():
            infos = [djsite.cli_json("show", i) for i in (paid, shipped)]
            return all(i["state"] == "complete" for i in infos) and infos

        infos = wait_until(done, 60, "the database tasks to finish")
    finally:
        assert consumer.stop() == 0, consumer.output()
    assert [i["result"] for i in infos] == [True, True]
    orders = djsite.django(
        "from shop.models import Order\n"
        "print(sorted((o.paid, o.shipped) for o in Order.objects.all()))\n"
    )
    assert orders.stdout.strip() == "[(False, True), (True, False)]"


def test_sql_huey_runs_with_a_note_of_what_is_missing(tmp_path):
    site = make_site(tmp_path, "sql")
    site.env["HUEY_DESK_JOURNAL"] = str(tmp_path / "sql.desk-journal")
    task_id = site.cli_json("submit", "send_welcome", "--args", "[8]")["id"]
    consumer = site.consumer("--workers", "1")
    try:
        info = wait_until(
            lambda: (i := site.cli_json("show", task_id))["state"] == "complete" and i,
            60,
            "the task to run on sql_huey",
        )
    finally:
        assert consumer.stop() == 0, consumer.output()
    assert info["task"] == "shop.tasks.send_welcome"
    assert info["django"]["status"] == "SUCCESSFUL"
    notes = site.cli_json("status")["notes"]
    assert notes[0].startswith("SqlStorage has no Huey Desk backend of its own")


def test_a_django_huey_queues_consumer_takes_that_queues_options(tmp_path):
    site = make_site(tmp_path, "queues")
    task_id = site.cli_json("submit", "build_report", "--args", "[11]", "--queue", "reports")["id"]
    consumer = site.consumer("--queue", "reports")
    try:
        info = wait_until(
            lambda: (
                (i := site.cli_json("show", task_id, "--queue", "reports"))["state"] == "complete"
                and i
            ),
            60,
            "the report to be built",
        )
        workers = reporting_workers_of(site, "--queue", "reports")
    finally:
        assert consumer.stop() == 0, consumer.output()
    assert info["result"] == "report for month 11"
    assert len(workers) == 3  # DJANGO_HUEY['queues']['reports']['consumer']['workers']


def reporting_workers_of(site, *args: str) -> list[dict]:
    workers = site.cli_json("status", *args)["workers"]
    return [w for w in workers if w["state"] in ("idle", "busy")]
