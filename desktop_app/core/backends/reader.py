"""Read a Huey queue's own data without changing it: counts, pages, results, revoke flags.

One reader per kind of Huey storage, chosen once by ``reader_for``: SQLite reads with
indexed SQL, Redis with ``LLEN`` / ``LRANGE`` / ``ZRANGE`` / ``HMGET``, any other storage
through Huey's storage API (bounded where that API allows).  Readers hand back raw
message and result bytes: decoding is ``safe_decode``'s job, never ``pickle.loads``.
Every call is one storage round trip or transaction, so ``storage_errors.guarded`` may
retry it.
"""

from __future__ import annotations

from typing import Any

from huey.constants import EmptyData
from huey.storage import SqliteStorage

# A result store larger than this is not listed to find an id prefix.
LIST_RESULTS_UP_TO = 20_000
REVOKE_PREFIX = "r:"


class QueueReader:
    """Reads through Huey's storage API: works on every storage Huey has."""

    def __init__(self, huey: Any) -> None:
        self.huey = huey
        self.storage = huey.storage

    # -- counts ------------------------------------------------------------------------
    def pending_count(self) -> int:
        return self.storage.queue_size()

    def scheduled_count(self) -> int:
        return self.storage.schedule_size()

    def results_count(self) -> int:
        """Stored results (revoke flags and locks left out where the storage can)."""
        return self.storage.result_store_size()

    # -- pages -------------------------------------------------------------------------
    def pending_page(self, offset: int, limit: int) -> list[bytes]:
        """Messages in the order the consumer takes them."""
        return list(self.storage.enqueued_items(offset + limit))[offset:]

    def scheduled_page(self, offset: int, limit: int) -> list[bytes]:
        """Scheduled messages, soonest first."""
        return list(self.storage.scheduled_items(offset + limit))[offset:]

    def queued_containing(self, needle: bytes, limit: int) -> list[bytes] | None:
        """Queued and scheduled messages whose bytes contain ``needle``, or None when
        this storage cannot search its raw messages (the caller decodes a bounded scan)."""
        return None

    # -- results and flags -------------------------------------------------------------
    def peek(self, key: str) -> bytes | None:
        raw = self.storage.peek_data(key)
        return None if raw is EmptyData or raw is None else raw

    def peek_many(self, keys: list[str]) -> dict[str, bytes]:
        """The stored values of those keys that have one."""
        found = {}
        for key in keys:
            raw = self.peek(key)
            if raw is not None:
                found[key] = raw
        return found

    def revoked(self, task_ids: list[str]) -> set[str]:
        flags = self.peek_many([REVOKE_PREFIX + i for i in task_ids])
        return {key[len(REVOKE_PREFIX) :] for key in flags}

    def result_ids(self, prefix: str, limit: int) -> set[str]:
        """Ids of stored results that start with ``prefix`` (nothing when the store is
        too large to list on this storage)."""
        if self.storage.result_store_size() > LIST_RESULTS_UP_TO:
            return set()
        keys = [
            k.decode() if isinstance(k, bytes) else str(k) for k in self.storage.result_items()
        ]
        found = {k for k in keys if k.startswith(prefix) and not k.startswith(REVOKE_PREFIX)}
        return set(sorted(found)[:limit])


class SqliteQueueReader(QueueReader):
    """Reads Huey's SQLite tables with indexed SQL (pages by LIMIT / OFFSET)."""

    storage: SqliteStorage

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self.storage.sql(sql, (self.storage.name, *params), results=True)

    def results_count(self) -> int:
        return self._rows(
            "SELECT count(*) FROM kv WHERE queue = ? AND key NOT LIKE 'r:%' "
            "AND instr(key, '.') = 0",
            (),
        )[0][0]

    def pending_page(self, offset: int, limit: int) -> list[bytes]:
        rows = self._rows(
            "SELECT data FROM task WHERE queue = ? ORDER BY priority DESC, id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [r[0] for r in rows]

    def scheduled_page(self, offset: int, limit: int) -> list[bytes]:
        rows = self._rows(
            "SELECT data FROM schedule WHERE queue = ? ORDER BY timestamp, id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [r[0] for r in rows]

    def queued_containing(self, needle: bytes, limit: int) -> list[bytes] | None:
        found: list[bytes] = []
        for table in ("task", "schedule"):
            rows = self._rows(
                f"SELECT data FROM {table} WHERE queue = ? AND instr(data, ?) > 0 LIMIT ?",
                (needle, limit),
            )
            found += [r[0] for r in rows]
        return found

    def peek_many(self, keys: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self._rows(
                f"SELECT key, value FROM kv WHERE queue = ? AND key IN "
                f"({','.join('?' * len(chunk))})",
                tuple(chunk),
            )
            found.update({key: bytes(value) for key, value in rows})
        return found

    def result_ids(self, prefix: str, limit: int) -> set[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._rows(
            "SELECT key FROM kv WHERE queue = ? AND key LIKE ? ESCAPE '\\' "
            "AND key NOT LIKE 'r:%' LIMIT ?",
            (escaped + "%", limit),
        )
        return {r[0] for r in rows}


def reader_for(huey: Any) -> QueueReader:
    """The reader for ``huey``'s storage, chosen once."""
    from huey.storage import RedisStorage

    storage = huey.storage
    if isinstance(storage, SqliteStorage):
        return SqliteQueueReader(huey)
    if isinstance(storage, RedisStorage):
        from desktop_app.core.backends.redis.reader import RedisQueueReader

        return RedisQueueReader(huey)
    return QueueReader(huey)
