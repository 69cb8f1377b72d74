"""A reliable take for Redis Huey queues: each message moves into a per-worker processing list.

Huey's Redis ``dequeue`` is a pop (``BRPOP``, ``BZPOPMIN``): a consumer killed between
the pop and its "executing" event loses the task.  Here a worker's take moves the message
from Huey's queue into ``huey-desk:{name}:inflight:<consumer>:<worker>`` and records the
worker, consumer, pid and time in ``...:inflight-meta:<consumer>:<worker>``, in one Lua
script (``LMOVE`` for the list queue, ``ZPOPMIN`` + ``LPUSH`` for the priority sorted
set).  The entry is dropped when the worker is done with the message, by the same script
as its next take (one round trip per task).  When the queue is empty an idle worker
blocks in ``BLMOVE`` (one second at most, so that a stop is noticed), which is the
wake-up: a task enqueued by anyone is taken at once, without polling.

``RedisInFlightStore`` is recovery's side: the processing lists of dead consumers, moved
out atomically (``LREM`` of the exact entry, in the script that keeps it) so that of
several live consumers on several hosts exactly one recovers each message.

Redis has no blocking move out of a sorted set, so an idle worker of a priority queue
waits instead for Redis to tell it that the queue's key was written (``wakeup.KeyWatch``)
and then takes with the same script as a busy worker: the pop and its record stay one
step.  Only on a Redis that cannot tell (older than 6, ``CLIENT`` not allowed) does it
block in ``BZPOPMIN`` and land the message in its list afterwards, which a kill in that
one round trip loses (as Huey's own dequeue would; a warning says so).  The scripts use
Huey's queue key and ours together, so they need a single Redis, not a Cluster.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from typing import Any

import redis

from desktop_app.core.backends.redis.kept import (
    KEEP_LUA_FN,
    REQUEUE_LUA,
    kept_messages,
    prefix_of,
)
from desktop_app.core.backends.redis.wakeup import KeyWatch, WatchUnavailable
from desktop_app.core.inflight import (
    KEEP_INTERRUPTED_S,
    DeadRow,
    InFlightBase,
    InFlightRow,
)
from desktop_app.core.kept import INTERRUPTED_TABLE, UNRUNNABLE_TABLE
from desktop_app.core.recorder import current_worker_name
from desktop_app.core.safe_decode import MessageView

logger = logging.getLogger("huey_desk.redis.inflight")

# The bytes Huey's priority queue puts before each message (a big-endian timestamp).
PRIORITY_PREFIX = 8
# A worker sends its consumer, name and pid with its first take and every this many.
IDENT_EVERY = 64
# How long an idle worker blocks in one take, at most: a stop is noticed this soon.
BLOCK_S = 1.0

# KEYS: queue, processing list, meta hash, set of lists.  ARGV: member (of the set),
# done ('1': drop the head entry, the message this worker finished), now, and, on a
# worker's first take and every ``IDENT_EVERY`` after, its consumer, worker and pid (they
# are in the list's name too; sent seldom, since every argument costs the worker time).
# Returns the message taken, or nil (the meta then has no take time until one lands).
_TAKE_HEAD = """
local queue, list, meta, lists = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if ARGV[2] == '1' then redis.call('LPOP', list) end
redis.call('SADD', lists, ARGV[1])
if #ARGV > 3 then
    redis.call('HSET', meta, 'consumer', ARGV[4], 'worker', ARGV[5], 'pid', ARGV[6])
end
"""
_TAKE_TAIL = """
if m then
    redis.call('HSET', meta, 'taken_at', ARGV[3], 'score', score)
else
    redis.call('HDEL', meta, 'taken_at')
end
return m
"""
TAKE_LIST_LUA = (
    _TAKE_HEAD
    + """
local m = redis.call('LMOVE', queue, list, 'RIGHT', 'LEFT')
local score = '0'
"""
    + _TAKE_TAIL
)
# Huey's ``PriorityRedisStorage.dequeue`` is ZPOPMIN: the same order here.
TAKE_PRIORITY_LUA = (
    _TAKE_HEAD
    + """
local popped = redis.call('ZPOPMIN', queue)
local m, score = popped[1], popped[2] or '0'
if m then redis.call('LPUSH', list, m) end
"""
    + _TAKE_TAIL
)
# After a blocking take: KEYS: list, meta.  ARGV: member ('' : already in the list),
# score, now.
LAND_LUA = """
if ARGV[1] ~= '' then redis.call('LPUSH', KEYS[1], ARGV[1]) end
redis.call('HSET', KEYS[2], 'taken_at', ARGV[3], 'score', ARGV[2])
"""
# KEYS: set of lists, list, meta.  ARGV: member, done.  A worker that stops: drop the
# entry it finished, and its list's registration once the list is empty.
RETIRE_LUA = """
if ARGV[2] == '1' then redis.call('LPOP', KEYS[2]) end
if redis.call('LLEN', KEYS[2]) == 0 then
    redis.call('SREM', KEYS[1], ARGV[1])
    redis.call('DEL', KEYS[3])
end
"""
# KEYS: prefix, list, meta.  ARGV: entry, task id, task name, error, now, score.
KEEP_UNRUNNABLE_LUA = (
    KEEP_LUA_FN
    + f"""
if redis.call('LREM', KEYS[2], 1, ARGV[1]) ~= 1 then return 0 end
local m = redis.call('HMGET', KEYS[3], 'consumer', 'worker')
return keep(KEYS[1], '{UNRUNNABLE_TABLE}', ARGV[2], ARGV[3], ARGV[1], ARGV[6],
    m[1] or '', m[2] or '', ARGV[4], ARGV[5])
"""
)
# KEYS: prefix.  ARGV[1]: drop kept messages older than this, ARGV[2]: now, then groups
# of 9: list, set member, entry, ended ('1': only delete), task id, task name, consumer,
# worker, score.  Returns per group: -1 (someone else took it), 0 (deleted), or the kept id.
CLAIM_LUA = (
    KEEP_LUA_FN
    + f"""
local P = KEYS[1]
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'kept-at', '-inf', ARGV[1])) do
    local key = P .. 'kept:' .. id
    local v = redis.call('HMGET', key, 'table', 'task_id')
    if v[1] == '{INTERRUPTED_TABLE}' then
        redis.call('DEL', key)
        redis.call('ZREM', P .. 'kept-at', id)
        if v[2] then redis.call('HDEL', P .. 'kept-by-task:' .. v[1], v[2]) end
    end
end
local out = {{}}
for i = 3, #ARGV, 9 do
    local list, member, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    if redis.call('LREM', list, 1, entry) ~= 1 then
        out[#out + 1] = -1
    elseif ARGV[i + 3] == '1' then
        out[#out + 1] = 0
    else
        out[#out + 1] = keep(P, '{INTERRUPTED_TABLE}', ARGV[i + 4], ARGV[i + 5], entry,
            ARGV[i + 8], ARGV[i + 6], ARGV[i + 7], '', ARGV[2])
    end
    if redis.call('LLEN', list) == 0 then
        redis.call('SREM', P .. 'inflight', member)
        redis.call('DEL', P .. 'inflight-meta:' .. member)
    end
end
return out
"""
)


def _keys(storage: Any, consumer_id: str, worker: str) -> tuple[str, str, str]:
    """The set member, processing list and meta hash of one worker."""
    prefix = prefix_of(storage)
    member = f"{consumer_id}:{worker}"
    return member, prefix + "inflight:" + member, prefix + "inflight-meta:" + member


class RedisInFlight(InFlightBase):
    """Takes messages for the workers of one consumer into their processing lists."""

    blocking = True
    # Set once a Redis refused to watch a key: every worker then blocks in BZPOPMIN.
    _watch_unavailable = False
    # Recovery is a few small reads here: run it often, so that a dead host's tasks are
    # journalled soon after its heartbeat key expires.
    recover_every_s = 0.5

    def __init__(self, huey: Any, consumer_id: str, worker_type: str = "thread", **kw: Any):
        super().__init__(huey, consumer_id, worker_type, **kw)
        storage = self.storage
        self.prefix = prefix_of(storage)
        self.priority = bool(getattr(storage, "priority", False))
        conn = storage.conn
        self._take = conn.register_script(TAKE_PRIORITY_LUA if self.priority else TAKE_LIST_LUA)
        self._land = conn.register_script(LAND_LUA)
        self._keep = conn.register_script(KEEP_UNRUNNABLE_LUA)
        self._retire = conn.register_script(RETIRE_LUA)
        self._tokens = itertools.count(1)
        self.block_s = min(float(getattr(storage, "read_timeout", BLOCK_S) or BLOCK_S), BLOCK_S)

    def _mine(self) -> tuple[str, str, str]:
        keys = getattr(self._local, "keys", None)
        if keys is None:
            worker = current_worker_name(self.worker_type)
            keys = self._local.keys = _keys(self.storage, self.consumer_id, worker)
            self._local.worker = worker
        return keys

    def take(self) -> bytes | None:
        """Move the next message into this worker's processing list (dropping the one it
        finished), recording the take; when there is none, wait for one (``BLMOVE``, or
        on a priority queue a wake-up and the same script again)."""
        member, plist, meta = self._mine()
        done = getattr(self._local, "done", None) is not None
        entry = self._take_now(member, plist, meta, done)
        self._local.done = None
        if entry is None:
            entry = self._block(member, plist, meta)
            if entry is None:
                return None
        self._local.row, self._local.task_id = next(self._tokens), None
        self._local.entry = entry
        return entry[PRIORITY_PREFIX:] if self.priority else entry

    def _take_now(self, member: str, plist: str, meta: str, done: bool) -> bytes | None:
        """One call of the take script (atomic: pop, land in the list, record)."""
        args: list[Any] = [member, "1" if done else "0", repr(time.time())]
        takes = self._local.takes = getattr(self._local, "takes", -1) + 1
        if takes % IDENT_EVERY == 0:
            args += [self.consumer_id, self._local.worker, os.getpid()]
        return self._take(
            keys=[self.storage.queue_key, plist, meta, self.prefix + "inflight"], args=args
        )

    def _block(self, member: str, plist: str, meta: str) -> bytes | None:
        conn = self.storage.conn
        try:
            if self.priority:
                watch = self._watch()
                if watch is not None:
                    return self._wait_and_take(watch, member, plist, meta)
                popped = conn.bzpopmin(self.storage.queue_key, timeout=self.block_s)
                if not popped:
                    return None
                _, entry, score = popped
                self._land(keys=[plist, meta], args=[entry, repr(score), repr(time.time())])
                return entry
            entry = conn.blmove(self.storage.queue_key, plist, self.block_s, "RIGHT", "LEFT")
        except redis.TimeoutError:
            return None
        if entry is not None:
            self._land(keys=[plist, meta], args=["", "0", repr(time.time())])
        return entry

    def _wait_and_take(self, watch: KeyWatch, member: str, plist: str, meta: str) -> Any:
        """Arm the watch, look once more (a task enqueued before the watch sent nothing),
        wait for a write to the queue, and take with the script: never a bare pop."""
        try:
            watch.arm()
            entry = self._take_now(member, plist, meta, False)
            if entry is None:
                watch.wait(self.block_s)  # woken or not: one more look (a safety net)
                entry = self._take_now(member, plist, meta, False)
        except BaseException:
            self._local.watch = None  # broken: the next idle take makes a new one
            watch.close()
            raise
        watch.disarm()
        return entry

    def _watch(self) -> KeyWatch | None:
        """This worker's watch of the priority queue (None: this Redis cannot watch)."""
        if RedisInFlight._watch_unavailable:
            return None
        watch = getattr(self._local, "watch", None)
        if watch is None:
            try:
                watch = self._local.watch = KeyWatch(self.storage.conn, self.storage.queue_key)
            except WatchUnavailable as exc:
                RedisInFlight._watch_unavailable = True
                logger.warning(
                    "This Redis cannot notify idle workers of a write to the priority queue "
                    "(%s); they block in BZPOPMIN, and a worker killed between that pop and "
                    "recording its take loses the message. Redis 6 or later with the CLIENT "
                    "command allowed closes that gap.",
                    exc,
                )
                return None
        return watch

    def release(self) -> None:
        """Drop the entry of the message this worker finished, now (the worker stops),
        and the worker's registration when nothing of it is left in flight."""
        member, plist, meta = self._mine()
        done = "1" if getattr(self._local, "done", None) is not None else "0"
        watch, self._local.watch = getattr(self._local, "watch", None), None
        if watch is not None:
            watch.close()
        try:
            self._retire(keys=[self.prefix + "inflight", plist, meta], args=[member, done])
            self._local.done = None
        except redis.RedisError:
            # The task ran; at worst recovery will take it for interrupted later.
            logger.exception("Could not release the in-flight message of %s", plist)

    def _move_unrunnable(self, row: Any, view: MessageView, error: str, now: float) -> bool:
        _, plist, meta = self._mine()
        entry = getattr(self._local, "entry", None)
        if entry is None:
            return False
        score = "0"
        if self.priority:
            score = self.storage.conn.hget(meta, "score") or "0"
        kept = self._keep(
            keys=[self.prefix, plist, meta],
            args=[entry, view.id or "", view.name or "", error, repr(now), score],
        )
        return bool(kept)

    def _where(self) -> str:
        return f"Redis queue {self.storage.queue_key}"


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class RedisInFlightStore:
    """Recovery's view of the processing lists and kept messages of a Redis queue."""

    def __init__(self, huey: Any) -> None:
        self.storage = huey.storage
        self.conn = self.storage.conn
        self.prefix = prefix_of(self.storage)
        self.priority = bool(getattr(self.storage, "priority", False))
        self._claim = self.conn.register_script(CLAIM_LUA)
        self._requeue = self.conn.register_script(REQUEUE_LUA)

    def rows(self) -> list[InFlightRow]:
        """Every message in a processing list of this queue (two round trips)."""
        members = sorted(_text(m) for m in self.conn.smembers(self.prefix + "inflight"))
        if not members:
            return []
        pipe = self.conn.pipeline(transaction=False)
        for member in members:
            pipe.lrange(self.prefix + "inflight:" + member, 0, -1)
            pipe.hgetall(self.prefix + "inflight-meta:" + member)
        found = pipe.execute()
        now = time.time()
        rows = []
        for n, member in enumerate(members):
            entries, raw = found[2 * n], found[2 * n + 1]
            meta = {_text(k): _text(v) for k, v in raw.items()}
            consumer = meta.get("consumer") or member.rsplit(":", 1)[0]
            for i, entry in enumerate(entries):
                # only the newest entry's take time is known (older ones were kept after an
                # interruption); unknown counts as "now": never taken for dealt with
                taken = meta.get("taken_at") if i == 0 else None
                pid = meta.get("pid")
                rows.append(
                    InFlightRow(
                        id=(self.prefix + "inflight:" + member, member, entry),
                        data=entry[PRIORITY_PREFIX:] if self.priority else entry,
                        priority=float(meta.get("score") or 0) if i == 0 else 0.0,
                        consumer=consumer,
                        worker=meta.get("worker"),
                        pid=int(pid) if pid else None,
                        taken_at=float(taken) if taken else now,
                    )
                )
        return rows

    def claim(
        self, found: list[DeadRow], ended: set[Any], now: float
    ) -> list[tuple[DeadRow, Any]]:
        """Move the entries out of their lists in one script: only entries this call
        removed are returned (kept id, or None when the task had ended)."""
        args: list[Any] = [repr(now - KEEP_INTERRUPTED_S), repr(now)]
        for dead in found:
            plist, member, entry = dead.row.id
            args += [
                plist,
                member,
                entry,
                "1" if dead.row.id in ended else "0",
                dead.view.id or "",
                dead.view.name or "",
                dead.row.consumer,
                dead.row.worker or "",
                repr(dead.row.priority),
            ]
        results = self._claim(keys=[self.prefix], args=args)
        claimed: list[tuple[DeadRow, Any]] = []
        for dead, result in zip(found, results):
            if result == -1:
                continue
            claimed.append((dead, None if result == 0 else int(result)))
        return claimed

    def requeue(self, kept_id: Any) -> bool:
        """Put a kept interrupted message back on Huey's queue, exactly once."""
        priority = "1" if self.priority else "0"
        return bool(
            self._requeue(keys=[self.prefix, self.storage.queue_key], args=[kept_id, priority])
        )

    def kept_interrupted(self, limit: int) -> list[dict[str, Any]]:
        return kept_messages(self.storage, INTERRUPTED_TABLE, limit)

    def count(self) -> int:
        members = [_text(m) for m in self.conn.smembers(self.prefix + "inflight")]
        pipe = self.conn.pipeline(transaction=False)
        for member in members:
            pipe.llen(self.prefix + "inflight:" + member)
        return sum(pipe.execute()) if members else 0
