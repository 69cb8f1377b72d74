"""Demo tasks that show real slow work and every state a user should see."""

from __future__ import annotations

import datetime as dt
import enum
import os
import random
import time
from typing import Any

from huey import crontab

from desktop_app.core.progress import report_progress
from tasks.config import huey


class ReportKind(enum.Enum):
    """What a report summarises."""

    SUMMARY = "summary"
    DETAILED = "detailed"
    AUDIT = "audit"


def _work(seconds: float, steps: int, note: str) -> None:
    """Spend ``seconds`` in ``steps`` pieces, reporting progress after each."""
    steps = max(1, steps)
    for i in range(steps):
        time.sleep(seconds / steps)
        report_progress((i + 1) / steps, f"{note} {i + 1}/{steps}")


@huey.task()
def send_email(user_id: int, subject: str = "Welcome aboard", seconds: float = 10.0) -> str:
    """Send a (simulated) email to a user: slow, with progress along the way."""
    if user_id <= 0:
        raise ValueError(f"there is no user {user_id}")
    steps = ("render template", "connect to SMTP", "send", "record delivery")
    for i, step in enumerate(steps):
        time.sleep(max(seconds, 0) / len(steps))
        report_progress((i + 1) / len(steps), step)
    return f"sent {subject!r} to user {user_id}"


@huey.task()
def noop() -> None:
    """Do nothing at all: for measuring the queue itself."""


@huey.task()
def sleep_for(seconds: float) -> float:
    """Sleep for the given number of seconds and return it."""
    _work(seconds, max(1, min(int(seconds * 2), 100)), "slept")
    return seconds


@huey.task(retries=2, retry_delay=0)
def chore(seconds: float = 0.0, fail: bool = False) -> float:
    """A short job that declared two retries: it runs again after a crash interrupts it."""
    if seconds > 0:
        time.sleep(seconds)
    if fail:
        raise RuntimeError("chore failed as asked")
    return seconds


@huey.task()
def always_fail(message: str = "this task always fails") -> None:
    """Raise an error, to show a failure with its traceback."""
    raise RuntimeError(message)


@huey.task(retries=3, retry_delay=1, context=True)
def flaky(fail_times: int = 1, task: Any = None) -> str:
    """Fail the first ``fail_times`` attempts, then succeed (Huey retries it)."""
    attempt = 3 - task.retries + 1 if task is not None else 1
    if attempt <= fail_times:
        raise ConnectionError(f"attempt {attempt} failed (will retry)")
    return f"succeeded on attempt {attempt}"


@huey.task(priority=10)
def make_thumbnail(path: str, size: int = 128) -> dict:
    """Resize an image to a thumbnail (simulated); runs before normal-priority work."""
    _work(0.5 + size / 512, 4, "resized")
    return {"path": path, "size": [size, size]}


@huey.task()
def crunch_report(
    rows: int = 100_000, kind: ReportKind = ReportKind.SUMMARY, since: dt.date | None = None
) -> dict:
    """Crunch numbers into a report: CPU-bound work with progress."""
    if rows < 0:
        raise ValueError("rows must not be negative")
    rng = random.Random(rows)
    total = 0.0
    chunk = max(1, rows // 20)
    for start in range(0, rows, chunk):
        total += sum(rng.random() for _ in range(min(chunk, rows - start)))
        report_progress(min(1.0, (start + chunk) / max(rows, 1)), f"{start + chunk} rows")
    return {
        "kind": kind.value,
        "rows": rows,
        "since": since.isoformat() if since else None,
        "mean": round(total / rows, 6) if rows else None,
    }


@huey.periodic_task(crontab(minute="*/5"))
def tidy_temp_files() -> int:
    """Every five minutes: count stale temporary files (simulated housekeeping)."""
    tmp = os.environ.get("TMPDIR", "/tmp")
    try:
        return sum(1 for _ in os.scandir(tmp))
    except OSError:
        return 0
