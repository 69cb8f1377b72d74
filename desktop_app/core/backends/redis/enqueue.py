"""Several messages onto a Redis Huey's queue in one MULTI/EXEC, as Huey writes each."""

from __future__ import annotations

import struct
import time
from typing import Any


def enqueue_many(storage: Any, messages: list[tuple[bytes, float | None]]) -> None:
    """What ``RedisStorage.enqueue`` (a list push) or the priority queue's (a sorted-set
    entry prefixed with the enqueue time in microseconds, scored by minus the priority)
    does for each message, all in one transaction."""
    pipe = storage.conn.pipeline(transaction=True)
    if getattr(storage, "priority", False):
        now = int(time.time() * 1e6)
        entries: dict[bytes, float] = {}
        for i, (data, priority) in enumerate(messages):
            # one microsecond apart: the order they were given in, as separate members
            entries[struct.pack(">Q", now + i) + data] = 0 if priority is None else -priority
        pipe.zadd(storage.queue_key, entries)
    else:
        if any(priority for _, priority in messages):
            raise NotImplementedError("Task priorities are not supported by this storage.")
        pipe.lpush(storage.queue_key, *(data for data, _ in messages))
    pipe.execute()
