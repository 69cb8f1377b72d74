"""Read a Redis-backed Huey's keys without changing them, a page at a time.

Huey's Redis layout (3.5): the queue is a list (``LPUSH`` in, ``RPOP`` out, so the
consumer takes from the right end) or, for ``PriorityRedisStorage``, a sorted set of
8-byte-timestamp-prefixed messages (``ZPOPMIN``); the schedule a sorted set by time;
results and revoke flags a hash, or one key each for ``RedisExpireStorage``.  Huey's own
``enqueued_items(n)`` reads from the start every time; pages here read only their range.
"""

from __future__ import annotations

import time
from typing import Any

from desktop_app.core.backends.reader import LIST_RESULTS_UP_TO, REVOKE_PREFIX, QueueReader

PRIORITY_PREFIX = 8  # bytes of timestamp before each message in a priority queue
SCAN_COUNT = 1000
# The expiring kind keeps one key per result, so counting them is a SCAN of the whole
# database: in a database of more keys than this, a count is reused for RECOUNT_S.
SCAN_EVERY_TIME_UP_TO = 20_000
RECOUNT_S = 10.0


class RedisQueueReader(QueueReader):
    """Counts with ``LLEN`` / ``ZCARD``, pages with ``LRANGE`` / ``ZRANGE``, results
    with ``HMGET`` (or ``MGET`` of the expiring kind's keys)."""

    def __init__(self, huey: Any) -> None:
        super().__init__(huey)
        self.conn = self.storage.conn
        self.priority = bool(getattr(self.storage, "priority", False))
        self.expiring = callable(getattr(self.storage, "result_key", None))
        self._counted: tuple[float, int] | None = None  # (when, count), expiring kind

    def _key(self, key: str) -> Any:
        return self.storage.result_key(key) if self.expiring else key

    def results_count(self) -> int:
        """``HLEN`` of the results hash; for the expiring kind, the result keys found by
        a ``SCAN`` of the prefix, revoke flags left out (Huey's own count includes them).
        A big database is scanned at most every ``RECOUNT_S``."""
        if not self.expiring:
            return self.conn.hlen(self.storage.result_key)
        now = time.monotonic()
        if (
            self._counted is not None
            and now - self._counted[0] < RECOUNT_S
            and self.conn.dbsize() > SCAN_EVERY_TIME_UP_TO
        ):
            return self._counted[1]
        start = self.storage.result_prefix
        flags = start + REVOKE_PREFIX.encode()
        keys = self.conn.scan_iter(match=start + b"*", count=SCAN_COUNT)
        count = sum(1 for key in keys if not key.startswith(flags))
        self._counted = (now, count)
        return count

    def pending_page(self, offset: int, limit: int) -> list[bytes]:
        if limit <= 0:
            return []
        if self.priority:
            items = self.conn.zrange(self.storage.queue_key, offset, offset + limit - 1)
            return [item[PRIORITY_PREFIX:] for item in items]
        # the consumer takes from the right: the next one is at -1
        items = self.conn.lrange(self.storage.queue_key, -(offset + limit), -(offset + 1))
        return list(reversed(items))

    def scheduled_page(self, offset: int, limit: int) -> list[bytes]:
        if limit <= 0:
            return []
        return self.conn.zrange(self.storage.schedule_key, offset, offset + limit - 1)

    def peek(self, key: str) -> bytes | None:
        if self.expiring:
            return self.conn.get(self._key(key))
        return self.conn.hget(self.storage.result_key, key)

    def peek_many(self, keys: list[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        if self.expiring:
            values = self.conn.mget([self._key(k) for k in keys])
        else:
            values = self.conn.hmget(self.storage.result_key, keys)
        return {k: v for k, v in zip(keys, values) if v is not None}

    def revoked(self, task_ids: list[str]) -> set[str]:
        flags = self.peek_many([REVOKE_PREFIX + i for i in task_ids])
        return {key[len(REVOKE_PREFIX) :] for key in flags}

    def result_ids(self, prefix: str, limit: int) -> set[str]:
        """A ``SCAN`` / ``HSCAN`` with a match, bounded to the first ``LIST_RESULTS_UP_TO``
        keys looked at."""
        pattern = _glob_escape(prefix) + "*"
        found: set[str] = set()
        if self.expiring:
            start = self.storage.result_prefix
            keys = self.conn.scan_iter(match=start + pattern.encode(), count=SCAN_COUNT)
            names = (k[len(start) :] for k in keys)
        else:
            pairs = self.conn.hscan_iter(self.storage.result_key, match=pattern, count=SCAN_COUNT)
            names = (k for k, _ in pairs)
        for looked, name in enumerate(names, start=1):
            text = name.decode() if isinstance(name, bytes) else str(name)
            if not text.startswith(REVOKE_PREFIX):
                found.add(text)
            if len(found) >= limit or looked >= LIST_RESULTS_UP_TO:
                break
        return found


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis glob pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
