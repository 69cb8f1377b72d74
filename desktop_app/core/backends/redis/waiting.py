"""Run a waiting message now on Redis: read in pages, moved by one Lua script.

A delayed task sits in Huey's queue (a list, or the priority kind's sorted set) until a
worker takes it and finds it early, then in the schedule (a sorted set by time) until
the consumer's scheduler moves it back.  The script removes the exact member it was
given (``LREM`` / ``ZREM``) and pushes the rewritten message only when that removal
happened: if the scheduler, a worker or another ``run_now`` got there first, nothing is
pushed and the caller looks again, so the task can neither run twice nor be lost.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from typing import Any

from desktop_app.core.backends.redis.reader import PRIORITY_PREFIX
from desktop_app.core.backends.waiting import QUEUE, SCHEDULE, Waiting, WaitingMessages

PAGE = 1000

# KEYS: where the message is, Huey's queue.  ARGV: 'list' or 'zset' (the kind of
# KEYS[1]), the member to remove, the member to push, '1' when the queue is a sorted
# set, its score there.  Returns 1 when moved, 0 when the member was no longer there.
MOVE_LUA = """
local removed
if ARGV[1] == 'list' then
    removed = redis.call('LREM', KEYS[1], 1, ARGV[2])
else
    removed = redis.call('ZREM', KEYS[1], ARGV[2])
end
if removed ~= 1 then return 0 end
if ARGV[4] == '1' then
    redis.call('ZADD', KEYS[2], ARGV[5], ARGV[3])
else
    redis.call('LPUSH', KEYS[2], ARGV[3])
end
return 1
"""


class RedisWaiting(WaitingMessages):
    """Pages of ``LRANGE`` / ``ZRANGE`` to find, ``MOVE_LUA`` to move."""

    def __init__(self, huey: Any) -> None:
        super().__init__(huey)
        self.conn = self.storage.conn
        self.priority = bool(getattr(self.storage, "priority", False))
        self._move = self.conn.register_script(MOVE_LUA)

    def _members(self, key: str, is_list: bool) -> Iterator[bytes]:
        read = self.conn.lrange if is_list else self.conn.zrange
        start = 0
        while True:
            page = read(key, start, start + PAGE - 1)
            yield from page
            if len(page) < PAGE:
                return
            start += PAGE

    def candidates(self, needle: bytes | None) -> Iterator[Waiting]:
        places = (
            (QUEUE, self.storage.queue_key, not self.priority),
            (SCHEDULE, self.storage.schedule_key, False),
        )
        for where, key, is_list in places:
            cut = PRIORITY_PREFIX if where == QUEUE and self.priority else 0
            for member in self._members(key, is_list):
                data = member[cut:]
                if needle is None or needle in data:
                    yield Waiting(where, member, data)

    def move_to_queue(self, found: Waiting, blob: bytes, priority: float | None) -> bool:
        storage = self.storage
        from_list = found.where == QUEUE and not self.priority
        source = storage.queue_key if found.where == QUEUE else storage.schedule_key
        member, score = blob, 0.0
        if self.priority:  # as Huey's own enqueue: a time prefix, the priority negated
            member = struct.pack(">Q", int(time.time() * 1e6)) + blob
            score = -(priority or 0)
        moved = self._move(
            keys=[source, storage.queue_key],
            args=[
                "list" if from_list else "zset",
                found.ref,
                member,
                "1" if self.priority else "0",
                repr(float(score)),
            ],
        )
        return bool(moved)
