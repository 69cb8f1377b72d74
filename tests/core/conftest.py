"""Fixtures for the core tests: a private SQLite Huey with typed tasks, and a journal."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from pathlib import Path

import pytest
from huey import SqliteHuey, crontab

from desktop_app.core.journal import SqliteJournal


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


def make_huey(path: Path, **options) -> SqliteHuey:
    huey = SqliteHuey("test", filename=str(path), **options)

    @huey.task()
    def add(a: int, b: int = 2) -> int:
        """Add two numbers."""
        return a + b

    @huey.task(retries=2, retry_delay=5, priority=7)
    def paint(colour: Colour, when: dt.date | None = None, *, price: Decimal = Decimal("1.5")):
        """Paint something."""
        return colour.value

    @huey.task()
    def gather(*items: float, **labels: str) -> int:
        return len(items) + len(labels)

    @huey.task()
    def boom(message: str = "boom") -> None:
        raise RuntimeError(message)

    @huey.task(context=True)
    def with_context(n: int, task=None) -> str:
        return task.id

    @huey.periodic_task(crontab(minute="0", hour="*/6"))
    def every_six_hours() -> None:
        """Runs four times a day."""

    huey.test_tasks = {t.func.__name__: t for t in (add, paint, gather, boom, with_context)}
    return huey


@pytest.fixture
def huey(tmp_path: Path) -> SqliteHuey:
    h = make_huey(tmp_path / "queue.db")
    yield h
    h.storage.close()


@pytest.fixture
def journal(tmp_path: Path) -> SqliteJournal:
    j = SqliteJournal(tmp_path / "journal.sqlite")
    yield j
    j.close()
