"""Turn storage failures into plain sentences, and retry the ones that pass."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from desktop_app.core.errors import QueueBusyError, UserError

T = TypeVar("T")

BUSY_RETRIES = 5


class QueueFileError(UserError):
    """The queue file itself cannot be used (damaged, not SQLite, cannot be opened).

    The window catches this one to offer another file instead of closing.
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = str(path) if path is not None else None


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "busy": another process holds the lock."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def is_redis_error(exc: BaseException) -> bool:
    """True for redis-py's exceptions (told apart without importing redis)."""
    return type(exc).__module__.split(".")[0] == "redis"


def _explain_redis(exc: BaseException, where: str) -> UserError | None:
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = str(exc)
    first = text.strip().splitlines()[0].rstrip(".") if text.strip() else type(exc).__name__
    if "AuthenticationError" in names or any(w in text for w in ("NOAUTH", "WRONGPASS")):
        return UserError(
            f"Redis for the queue {where} refused the connection's password (or needs "
            "one); check the password in the project's Redis URL or settings."
        )
    if "TimeoutError" in names:
        return UserError(
            f"Redis for the queue {where} did not answer in time; check that it runs and "
            "is not overloaded, then try again."
        )
    if "ConnectionError" in names:
        return UserError(
            f"Cannot reach Redis for the queue {where} ({first}); check that redis-server "
            "runs there and that the URL is right."
        )
    if "ReadOnlyError" in names:
        return UserError(
            f"Redis for the queue {where} is a read-only replica; point the project at "
            "the primary."
        )
    if "OutOfMemoryError" in names or "OOM command" in text:
        return UserError(
            f"Redis for the queue {where} is out of memory (maxmemory); free some or "
            "raise the limit."
        )
    return None


def explain(
    exc: BaseException, where: str, advice: str | None = None, path: str | None = None
) -> UserError | None:
    """A ``UserError`` for a storage failure the user can act on, else None.

    ``where`` names the queue in the sentence; ``advice`` replaces the generic "point
    Huey Desk at another file" (the default queue says which variable to set); ``path``
    is the file a ``QueueFileError`` carries (``where`` when not given).
    """
    if is_redis_error(exc):
        return _explain_redis(exc, where)
    text = str(exc).lower()
    path = path if path is not None else where
    advice = advice or "point Huey Desk at another file or move this one aside"
    if is_busy(exc):
        return QueueBusyError(
            f"The queue {where} is busy (locked by another process); try again in a moment."
        )
    if isinstance(exc, sqlite3.OperationalError):
        if "readonly" in text or "read-only" in text:
            return UserError(
                f"The queue {where} is read-only; check the permissions of the file "
                "and its folder."
            )
        if "full" in text:
            return UserError(
                f"The disk holding the queue {where} is full; free some space and try again."
            )
        if "unable to open" in text:
            return QueueFileError(
                f"The queue {where} cannot be opened ({exc}); check that it is a file and "
                f"that its folder exists and is writable, or {advice}.",
                path,
            )
        if "disk i/o error" in text:
            return UserError(
                f"The disk holding the queue {where} reported an I/O error; check the disk."
            )
    if isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    ):
        return QueueFileError(
            f"The queue {where} cannot be opened ({exc}); it is damaged or not a database; "
            f"{advice}.",
            path,
        )
    if isinstance(exc, PermissionError):
        return UserError(f"Permission denied on the queue {where}; check the file's owner.")
    return None


def guarded(
    call: Callable[[], T],
    where: str,
    retries: int = BUSY_RETRIES,
    on_busy: Callable[[str], None] | None = None,
) -> T:
    """Run a storage ``call``; retry while the database is busy, explain other failures.

    Each call given here must be a single transaction, so that a retry after a failure
    cannot write twice.  ``on_busy`` hears a sentence before each retry (the command line
    prints it once, so that a wait is never silent).
    """
    for attempt in range(retries + 1):
        try:
            return call()
        except Exception as exc:
            if not isinstance(exc, (sqlite3.Error, OSError)) and not is_redis_error(exc):
                raise
            error = explain(exc, where)
            if error is None:
                raise
            if isinstance(error, QueueBusyError) and attempt < retries:
                if on_busy is not None:
                    on_busy(f"The queue {where} is busy (locked by another process); retrying.")
                time.sleep(0.05 * 2**attempt)
                continue
            raise error from None
    raise AssertionError("unreachable")
