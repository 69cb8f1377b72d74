"""A djtasks.run message is shown as the django.tasks task it carries: in the queue, the
journal (tasks table, notifications), ``show`` and its details, with its Django status and
its return value or errors; run by a real ``huey-desk consumer --django``."""

from __future__ import annotations

import pytest

from tests.helpers import wait_until

pytestmark = pytest.mark.consumer


def enqueue_from_the_project(site, call: str) -> str:
    """Enqueue as the project's own code does (Huey Desk sees nothing until a consumer)."""
    proc = site.django(f"from shop.tasks import send_welcome, refund\nprint({call}.id)\n")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_queued_django_task_is_shown_as_itself(djsite):
    task_id = enqueue_from_the_project(djsite, "send_welcome.enqueue(5)")
    info = djsite.cli_json("show", task_id)
    assert info["task"] == "shop.tasks.send_welcome"
    assert info["args_preview"] == "5"
    assert info["django"]["status"] == "READY"
    assert info["django"]["task"] == "shop.tasks.send_welcome"


def test_a_django_task_run_by_the_consumer_shows_its_status_and_result(djsite):
    ok = enqueue_from_the_project(djsite, "send_welcome.enqueue(5)")
    bad = enqueue_from_the_project(djsite, "refund.enqueue(404, amount='2.50')")
    consumer = djsite.consumer("--workers", "1")
    try:

        def finished():
            infos = [djsite.cli_json("show", i) for i in (ok, bad)]
            # (journalled: Django's record says done a moment before the journal does)
            ended = all(
                i["state"] in ("complete", "error") and i.get("finished_at") for i in infos
            )
            return infos if ended else None

        done, failed = wait_until(finished, 60, "both django tasks to finish")
    finally:
        assert consumer.stop() == 0, consumer.output()
    assert done["task"] == "shop.tasks.send_welcome"
    assert done["state"] == "complete"
    assert done["django"]["status"] == "SUCCESSFUL"
    assert done["result"] == "welcome sent to user 5"
    assert "welcome sent to user 5" in done["result_preview"]
    assert failed["task"] == "shop.tasks.refund"
    assert failed["args_preview"] == "404, amount='2.50'"
    assert failed["state"] == "error"
    assert failed["django"]["status"] == "FAILED"
    assert failed["django"]["errors"][0]["exception"] == "shop.models.Order.DoesNotExist"
    assert "DoesNotExist" in failed["error"]
    text = djsite.cli("show", bad).stdout
    assert "django.tasks: shop.tasks.refund FAILED on " in text


def test_retrying_a_failed_django_task_goes_through_django_again(djsite):
    bad = enqueue_from_the_project(djsite, "refund.enqueue(404)")
    consumer = djsite.consumer("--workers", "1")
    try:
        wait_until(
            lambda: djsite.cli_json("show", bad).get("finished_at"), 60, "the refund to fail"
        )
    finally:
        assert consumer.stop() == 0, consumer.output()
    again = djsite.cli_json("retry", bad)["id"]
    info = djsite.cli_json("show", again)
    assert info["task"] == "shop.tasks.refund"
    assert info["retry_of"] == bad
    assert info["django"]["status"] == "READY"  # a new Django record, as enqueue makes
    assert info["django"]["task"] == "shop.tasks.refund"


def test_a_bulk_retry_of_failed_django_tasks_goes_through_django_once_each(djsite):
    bad = [enqueue_from_the_project(djsite, f"refund.enqueue({n})") for n in (404, 405)]
    consumer = djsite.consumer("--workers", "1")
    try:
        wait_until(
            lambda: all(djsite.cli_json("show", b).get("finished_at") for b in bad),
            60,
            "the refunds to fail",
        )
    finally:
        assert consumer.stop() == 0, consumer.output()
    args = ("retry", "--state", "failed", "--task", "refund")
    assert djsite.cli_json(*args, "--dry-run")["total"] == 2
    first = djsite.cli_json(*args)
    assert (first["done"], first["refused"]) == (2, 0)
    assert djsite.cli_json(*args)["skipped"] == 2  # run again: nothing twice
    for original in bad:
        retry = djsite.cli_json("show", original)["retried_as"]
        info = djsite.cli_json("show", retry)
        assert info["retry_of"] == original and info["task"] == "shop.tasks.refund"
        assert info["django"]["status"] == "READY"  # a Django record of its own
