"""Turn storage failures into plain sentences, and retry the ones that pass."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from desktop_app.core.errors import QueueBusyError, UserError

T = TypeVar("T")

BUSY_RETRIES = 5


def explain(exc: BaseException, where: str) -> UserError | None:
    """A ``UserError`` for a storage failure the user can act on, else None."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError):
        if "locked" in text or "busy" in text:
            return QueueBusyError(
                f"The queue {where} is busy (locked by another process); try again in a moment."
            )
        if "readonly" in text or "read-only" in text:
            return UserError(f"The queue {where} is read-only; check the file's permissions.")
        if "full" in text:
            return UserError(f"The disk holding the queue {where} is full; free some space.")
        if "unable to open" in text:
            return UserError(
                f"The queue {where} cannot be opened; check that its folder "
                "exists and is writable."
            )
    if isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    ):
        return UserError(
            f"The queue {where} is not a SQLite database or is damaged; "
            "point Huey Desk at another file or move this one aside."
        )
    if isinstance(exc, PermissionError):
        return UserError(f"Permission denied on the queue {where}; check the file's owner.")
    return None


def guarded(call: Callable[[], T], where: str, retries: int = BUSY_RETRIES) -> T:
    """Run a storage ``call``; retry while the database is busy, explain other failures.

    Each call given here must be a single transaction, so that a retry after a failure
    cannot write twice.
    """
    for attempt in range(retries + 1):
        try:
            return call()
        except (sqlite3.Error, OSError) as exc:
            error = explain(exc, where)
            if error is None:
                raise
            if isinstance(error, QueueBusyError) and attempt < retries:
                time.sleep(0.05 * 2**attempt)
                continue
            raise error from None
    raise AssertionError("unreachable")
