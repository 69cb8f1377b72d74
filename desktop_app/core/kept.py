"""Messages kept for a re-run: those of interrupted tasks and those a consumer could not run.

Both live beside Huey's tables in the queue database: ``desk_interrupted`` (recovery moves
a dead consumer's in-flight message there) and ``desk_unrunnable`` (a worker moves a
message there, from its in-flight row, when the message names a task this consumer has
not registered or cannot be decoded at all).  ``Dispatcher.retry`` puts a kept message
back on the queue, the original bytes with the same id, exactly once.  On a Redis queue
the same two functions use the kept messages in Redis (``backends/redis/kept.py``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from huey.storage import SqliteStorage

INTERRUPTED_TABLE = "desk_interrupted"
UNRUNNABLE_TABLE = "desk_unrunnable"
KEPT_TABLES = (INTERRUPTED_TABLE, UNRUNNABLE_TABLE)
# the reason journalled when a kept message goes back on the queue, by table
RERUN_REASON = "re-run after interruption"
REASONS = {
    INTERRUPTED_TABLE: RERUN_REASON,
    UNRUNNABLE_TABLE: "re-run of a message a consumer could not run",
}

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS desk_inflight (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, "
    "data BLOB NOT NULL, priority REAL NOT NULL DEFAULT 0, consumer TEXT NOT NULL, "
    "worker TEXT, pid INTEGER, taken_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS desk_inflight_queue ON desk_inflight (queue, consumer)",
    "CREATE TABLE IF NOT EXISTS desk_interrupted (id INTEGER PRIMARY KEY, "
    "queue TEXT NOT NULL, task_id TEXT, task_name TEXT, data BLOB NOT NULL, "
    "priority REAL NOT NULL DEFAULT 0, consumer TEXT, worker TEXT, "
    "interrupted_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS desk_interrupted_task ON desk_interrupted (queue, task_id)",
    "CREATE INDEX IF NOT EXISTS desk_interrupted_at ON desk_interrupted (queue, interrupted_at)",
    "CREATE TABLE IF NOT EXISTS desk_unrunnable (id INTEGER PRIMARY KEY, "
    "queue TEXT NOT NULL, task_id TEXT, task_name TEXT, data BLOB NOT NULL, "
    "priority REAL NOT NULL DEFAULT 0, consumer TEXT, worker TEXT, error TEXT, "
    "kept_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS desk_unrunnable_task ON desk_unrunnable (queue, task_id)",
)
_ready: weakref.WeakSet[SqliteStorage] = weakref.WeakSet()


def ensure_tables(storage: SqliteStorage) -> None:
    """Create our tables in the queue database (once per storage object)."""
    if storage in _ready:
        return
    with storage.db(commit=True) as cursor:
        for statement in _SCHEMA:
            cursor.execute(statement)
    _ready.add(storage)


def where(storage: SqliteStorage) -> str:
    """The queue file, as storage errors name it."""
    return str(storage.filename)


@dataclass(frozen=True)
class KeptMessage:
    """A kept message of one task: which table holds it, and its row there."""

    table: str
    row_id: int
    task_id: str
    task_name: str | None


def _redis(storage: Any) -> Any:
    """The Redis side of these functions, for a Redis storage (else None)."""
    from huey.storage import RedisStorage

    if isinstance(storage, RedisStorage):
        from desktop_app.core.backends.redis import kept

        return kept
    return None


def find_kept(storage: Any, task_id: str) -> KeptMessage | None:
    """The newest kept message of ``task_id`` (an interruption first), or None.

    Reads only: callers retry it while the queue is busy.  None for a storage that
    keeps nothing.
    """
    redis_side = _redis(storage)
    if redis_side is not None:
        return redis_side.find_kept(storage, task_id)
    if not isinstance(storage, SqliteStorage):
        return None
    ensure_tables(storage)
    for table in KEPT_TABLES:
        rows = storage.sql(
            f"SELECT id, task_name FROM {table} WHERE queue = ? AND task_id = ? "
            "ORDER BY id DESC LIMIT 1",
            (storage.name, task_id),
            results=True,
        )
        if rows:
            return KeptMessage(table, rows[0][0], task_id, rows[0][1])
    return None


def kept_among(storage: Any, task_ids: list[str]) -> set[str]:
    """Which of these tasks have a kept message (for a bulk retry: one look per chunk
    instead of one per task; ``find_kept`` then finds each one's)."""
    ids = [i for i in task_ids if i]
    if not ids:
        return set()
    redis_side = _redis(storage)
    if redis_side is not None:
        return redis_side.kept_among(storage, ids)
    if not isinstance(storage, SqliteStorage):
        return set()
    ensure_tables(storage)
    found: set[str] = set()
    for table in KEPT_TABLES:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = storage.sql(
                f"SELECT DISTINCT task_id FROM {table} WHERE queue = ? AND task_id IN "
                f"({','.join('?' * len(chunk))})",
                (storage.name, *chunk),
                results=True,
            )
            found.update(r[0] for r in rows)
    return found


def requeue(storage: Any, table: str, row_id: int) -> bool:
    """Put a kept message back on the queue, exactly once (False: someone else did).

    One transaction: callers retry it while the queue is busy (``storage_errors.guarded``).
    """
    if table not in KEPT_TABLES:
        raise ValueError(f"not a table of kept messages: {table}")
    redis_side = _redis(storage)
    if redis_side is not None:
        return redis_side.requeue(storage, table, row_id)

    def move() -> bool:
        with storage.db(commit=True) as cursor:
            row = cursor.execute(
                f"SELECT data, priority FROM {table} WHERE id = ?", (row_id,)
            ).fetchone()
            if row is None:
                return False
            cursor.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
            cursor.execute(
                "INSERT INTO task (queue, data, priority) VALUES (?, ?, ?)",
                (storage.name, row[0], row[1] or 0),
            )
            return True

    return move()
