"""The shop's background jobs: djhuey tasks and django.tasks tasks (run by HueyBackend)."""

import os
import time
from pathlib import Path

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_commit_task, periodic_task, task

try:  # Django 6 has django.tasks built in; before it, the django-tasks backport
    from django.tasks import task as django_task
except ImportError:
    from django_tasks import task as django_task

from shop.models import Order

# How long send_email takes; with DJSITE_GATE it runs until that file exists instead.
SEND_EMAIL_S = float(os.environ.get("DJSITE_EMAIL_S", "3"))


@task()
def send_email(user_id: int) -> str:
    """Send the welcome mail to a new user (slow, as mail is)."""
    gate = os.environ.get("DJSITE_GATE")
    deadline = time.monotonic() + (60 if gate else SEND_EMAIL_S)
    while time.monotonic() < deadline and not (gate and Path(gate).exists()):
        time.sleep(0.05)  # the slow job itself  # noqa: sleep-ok
    return f"mail sent to user {user_id}"


@db_task()
def mark_paid(order_id: int) -> bool:
    """Mark an order as paid (a database task: connections closed around it)."""
    return Order.objects.filter(pk=order_id).update(paid=True) == 1


@on_commit_task()
def ship(order_id: int) -> bool:
    """Ship an order once the transaction that asked for it has committed."""
    return Order.objects.filter(pk=order_id).update(shipped=True) == 1


@periodic_task(crontab(minute="*/5"))
def tidy_carts() -> None:
    """Forget abandoned carts, every five minutes."""


@db_periodic_task(crontab(hour="3", minute="0"))
def nightly_report() -> int:
    """Count the orders, every night at three."""
    return Order.objects.count()


@django_task()
def send_welcome(user_id: int) -> str:
    """The welcome mail, as a django.tasks task."""
    return f"welcome sent to user {user_id}"


@django_task()
def refund(order_id: int, amount: str = "0.00") -> dict:
    """Refund an order (fails for an order that does not exist)."""
    order = Order.objects.get(pk=order_id)
    return {"order": order.pk, "refunded": amount}


if "django_huey" in settings.INSTALLED_APPS:  # DJSITE_HUEY=queues
    from django_huey import task as queue_task

    @queue_task(queue="reports")
    def build_report(month: int) -> str:
        """Build the month's report, on the reports queue of django-huey."""
        return f"report for month {month}"
