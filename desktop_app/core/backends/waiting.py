"""Messages waiting for a time (delayed or scheduled): found, then moved to run now.

``run_now`` finds the message with plain reads and then moves it in one atomic step that
first checks it is still where it was, unchanged: a consumer's scheduler (or a worker)
may take it in between, and the task must then neither run twice nor vanish.  One mover
per kind of Huey storage, chosen by ``backends.waiting_for``: SQLite moves the row in
one short transaction, Redis in one Lua script (``backends/redis/waiting.py``).  Other
storages cannot move a message atomically: they refuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from huey.storage import SqliteStorage

from desktop_app.core.errors import UserError

QUEUE = "queue"  # waiting for a worker (a delayed task a worker has not taken yet)
SCHEDULE = "schedule"  # in the schedule, waiting for its time


@dataclass(frozen=True)
class Waiting:
    """One waiting message: where it is, the storage's own handle on it (a row id, a
    Redis member), and the message's bytes."""

    where: str
    ref: Any
    data: bytes


class WaitingMessages:
    """A storage whose waiting messages cannot be moved atomically: ``run_now`` refuses."""

    def __init__(self, huey: Any) -> None:
        self.huey = huey
        self.storage = huey.storage

    def _refuse(self) -> UserError:
        return UserError(
            f"Running a scheduled task now needs a SQLite or Redis queue, not "
            f"{type(self.storage).__name__}."
        )

    def candidates(self, needle: bytes | None) -> Iterator[Waiting]:
        """Messages in the queue, then in the schedule; with ``needle``, only those whose
        bytes contain it.  Plain reads: nothing is locked or changed."""
        raise self._refuse()

    def move_to_queue(self, found: Waiting, blob: bytes, priority: float | None) -> bool:
        """Replace ``found`` by ``blob`` at the back of the queue, atomically; False when
        ``found`` is no longer there, unchanged (taken, moved or rewritten)."""
        raise self._refuse()


class SqliteWaiting(WaitingMessages):
    """Huey's ``task`` and ``schedule`` tables: the move is one short transaction."""

    storage: SqliteStorage
    _TABLES = {QUEUE: "task", SCHEDULE: "schedule"}

    def candidates(self, needle: bytes | None) -> Iterator[Waiting]:
        for where, table in self._TABLES.items():
            sql = f"SELECT id, data FROM {table} WHERE queue = ?"
            params: tuple[Any, ...] = (self.storage.name,)
            if needle is not None:
                sql += " AND instr(data, ?) > 0"
                params += (needle,)
            for row_id, data in self.storage.sql(sql, params, results=True):
                yield Waiting(where, row_id, bytes(data))

    def move_to_queue(self, found: Waiting, blob: bytes, priority: float | None) -> bool:
        table = self._TABLES[found.where]
        with self.storage.db(commit=True) as cursor:
            row = cursor.execute(f"SELECT data FROM {table} WHERE id = ?", (found.ref,)).fetchone()
            if row is None or bytes(row[0]) != found.data:
                return False  # taken, moved or rewritten since it was read: look again
            cursor.execute(f"DELETE FROM {table} WHERE id = ?", (found.ref,))
            cursor.execute(
                "INSERT INTO task (queue, data, priority) VALUES (?, ?, ?)",
                (self.storage.name, blob, priority or 0),
            )
        return True
