"""django.tasks tasks: listed under their own names and signatures (never djtasks.run),
submitted through Django's backend so their djt.<id> record exists, with priority and
run_after honoured where the storage has them."""

from __future__ import annotations

import json

from tests.django.test_attach import refused


def django_record(site, task_id: str) -> dict:
    """The task's result as Django reads it (``get_result``)."""
    proc = site.django(
        "import json\nfrom shop.tasks import send_welcome\n"
        f"r = send_welcome.get_result({task_id!r})\n"
        "print(json.dumps({'status': str(r.status.value), 'args': r.args,"
        " 'priority': r.task.priority, 'run_after': str(r.task.run_after)}))\n"
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_catalogue_lists_django_tasks_as_themselves(djsite):
    tasks = {t["name"]: t for t in djsite.cli_json("tasks")["tasks"]}
    assert tasks["shop.tasks.send_welcome"]["signature"] == "(user_id: int) -> str"
    assert tasks["shop.tasks.send_welcome"]["django_task"] is True
    assert (
        tasks["shop.tasks.refund"]["signature"] == "(order_id: int, amount: str = '0.00') -> dict"
    )
    assert not any("djtasks" in name for name in tasks)
    text = djsite.cli("tasks").stdout
    assert "send_welcome(user_id: int) -> str  The welcome mail, as a django.tasks task." in text


def test_a_submitted_django_task_has_its_django_record(djsite):
    task_id = djsite.cli_json("submit", "send_welcome", "--args", "[5]")["id"]
    record = django_record(djsite, task_id)
    assert record["status"] == "READY"
    assert record["args"] == [5]
    queued = djsite.cli_json("status")
    assert queued["pending"] == 1


def test_run_after_is_given_to_django(djsite):
    task_id = djsite.cli_json("submit", "send_welcome", "--args", "[1]", "--delay", "600")["id"]
    assert django_record(djsite, task_id)["run_after"].endswith("+00:00")


def test_arguments_are_checked_against_the_django_tasks_signature(djsite):
    line = refused(djsite.cli("submit", "send_welcome", "--args", '["x"]'))
    assert "send_welcome" in line and "user_id" in line


def test_a_priority_is_given_to_django_where_the_storage_has_priorities(djsite_sqlite):
    task_id = djsite_sqlite.cli_json("submit", "send_welcome", "--args", "[2]", "--priority", "7")
    assert django_record(djsite_sqlite, task_id["id"])["priority"] == 7


def test_a_priority_on_a_plain_redis_huey_is_refused_plainly(djsite_redis):
    line = refused(djsite_redis.cli("submit", "send_welcome", "--args", "[2]", "--priority", "7"))
    assert "has no priorities (huey refuses them on a plain RedisHuey)" in line
    assert djsite_redis.cli_json("status")["pending"] == 0


def test_a_queue_name_is_for_django_tasks_only(djsite_sqlite):
    line = refused(djsite_sqlite.cli("submit", "send_email", "--args", "[2]", "--queue-name", "x"))
    assert "a queue name is for django.tasks tasks" in line
