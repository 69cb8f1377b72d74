"""The event journal in Redis, beside a Redis-backed Huey and shared by all its machines.

Events go to a Stream (its ids are the cursor), task summaries to one hash per task,
folded by the same rules as ``SqliteJournal`` (the fold of a batch is ``journal.fold_event``
itself; the merge into the stored summary is ``_MERGE``'s, in Lua).  One Lua script per
batch does the whole write atomically in one round trip: the merge must read a task's
stored state time before it writes, and several consumers' writers append at once, so
WATCH/MULTI would cost two round trips per batch and retries under contention.  Every
key starts with ``huey-desk:{name}:``; the braces make it a Redis Cluster hash tag, so
all of one journal's keys share a slot, as a script's keys must.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from desktop_app.core.errors import UserError

try:
    import redis
except ImportError:
    raise UserError(
        "Redis support needs the redis package: pip install 'huey-desk[redis]'"
    ) from None

from desktop_app.core.journal import (
    EXECUTING,
    FINAL_STATES,
    FLUSHED,
    LATEST_RUN_COLUMNS,
    SUMMARY_COLUMNS,
    WORKER_FREED,
    Cursor,
    Event,
    Journal,
    NewEvent,
    dumps,
    fold_event,
)
from desktop_app.core.paths import redis_url
from desktop_app.core.states import ENQUEUED, RETRYING, REVOKED, SCHEDULED

# Durations kept per task name and overall for ``typical_duration`` (its ``sample`` is
# at most this).
DURATIONS_KEPT = 500
# How long a consumer's ``alive`` key outlives its last beat (beats come every second).
# Shorter than ``STALE_AFTER_S`` so that a dead host's tasks are journalled interrupted
# within 5 s of its death (expiry 3-4 s after it, then the next 0.5 s recovery of any
# live consumer); three missed beats in a row are needed for a false alarm.
ALIVE_TTL_S = 4.0
# Task summaries dropped per script call when pruning, so that Redis never stalls long.
PRUNE_CHUNK = 500

_TASK_COLUMNS = SUMMARY_COLUMNS  # as SqliteJournal's ``tasks`` table has them
_FLOATS = frozenset(
    (
        "state_ts",
        "enqueued_at",
        "started_at",
        "finished_at",
        "duration",
        "priority",
        "progress",
        "ts",
        "since",
        "last_beat",
        "stopped_at",
    )
)
_INTS = frozenset(("attempts", "pid", "retries", "args_exact", "seq", "workers"))
_CONSUMER_COLUMNS = (
    "consumer_id",
    "host",
    "pid",
    "target",
    "worker_type",
    "workers",
    "started_at",
    "last_beat",
    "stopped_at",
)
_WORKER_COLUMNS = ("consumer_id", "name", "pid", "state", "task_id", "task_name", "since")
# Columns of the latest run: not overwritten by a batch older than the stored state.
_LATEST = LATEST_RUN_COLUMNS
# States that a flush turns into "flushed" (as SqliteJournal's flush does).
_FLUSHABLE = (ENQUEUED, SCHEDULED, RETRYING, REVOKED)


def journal_prefix(name: str) -> str:
    """What every key of the journal of the Huey instance ``name`` starts with."""
    return f"huey-desk:{{{name}}}:"


def _lua_set(names: Iterable[str]) -> str:
    return "{" + ", ".join(f"[{json.dumps(n)}] = true" for n in names) + "}"


# Keys (after the prefix P): events (stream), task:<id> (hash), task-events:<id> (list of
# stream ids), tasks (zset, score 0, for prefix search), seq (creation counter), counts
# (hash state -> n), running (set), finished (zset by state time, for pruning by age),
# waiting (zset by state time, for flush), durations[:<name>] (capped lists), retried (hash
# task id -> the id of its latest retry, for bulk retries to skip what was retried).
# Numbers travel and are stored as the strings Python wrote: Lua's tostring keeps only 14
# digits, which would round a timestamp.
_INDEX_LUA = f"""
local NULL = cjson.null
local FINAL = {_lua_set(FINAL_STATES)}
local FLUSHABLE = {_lua_set(_FLUSHABLE)}
local LATEST = {_lua_set(_LATEST)}
local function index(P, id, old_state, state, ts)
    if old_state ~= state then
        if old_state then redis.call('HINCRBY', P .. 'counts', old_state, -1) end
        redis.call('HINCRBY', P .. 'counts', state, 1)
    end
    if state == '{EXECUTING}' then
        redis.call('SADD', P .. 'running', id)
    elseif old_state == '{EXECUTING}' then
        redis.call('SREM', P .. 'running', id)
    end
    if FINAL[state] then
        redis.call('ZADD', P .. 'finished', ts, id)
    else
        redis.call('ZREM', P .. 'finished', id)
    end
    if FLUSHABLE[state] then
        redis.call('ZADD', P .. 'waiting', ts, id)
    else
        redis.call('ZREM', P .. 'waiting', id)
    end
end
"""

_APPEND_LUA = (
    _INDEX_LUA
    + """
local P = KEYS[1]
local req = cjson.decode(ARGV[1])
local cap = tonumber(req.cap)
local last = false

local function merge(id, d, ids)
    local key = P .. 'task:' .. id
    local old = redis.call('HMGET', key, 'seq', 'state', 'state_ts', 'task_name')
    local exists, old_state, old_ts = old[1], old[2], old[3]
    if not exists then
        redis.call('HSET', key, 'seq', redis.call('INCR', P .. 'seq'), 'task_id', id)
        redis.call('ZADD', P .. 'tasks', 0, id)
    end
    local new_ts = d.state_ts
    if new_ts == nil or new_ts == NULL then new_ts = '0' end
    -- SQLite: excluded.state_ts >= tasks.state_ts, with the stored row's old values
    local wins = (not exists) or tonumber(new_ts) >= tonumber(old_ts or '0')
    d.first_event, d.last_event = ids[1], ids[#ids]
    local sets, dels = {}, {}
    for col, v in pairs(d) do
        local put = true
        if col == 'attempts' then
            redis.call('HINCRBY', key, 'attempts', v)
            put = false
        elseif col == 'task_name' then
            put = v ~= NULL
        elseif col == 'state' then
            put = wins
        elseif col == 'state_ts' then
            put = (not old_ts) or tonumber(v) >= tonumber(old_ts)
        elseif col == 'enqueued_at' or col == 'first_event' then
            put = v ~= NULL and redis.call('HEXISTS', key, col) == 0
        elseif LATEST[col] then
            put = wins
        end
        if put then
            if v == NULL then
                dels[#dels + 1] = col
            else
                sets[#sets + 1] = col
                sets[#sets + 1] = v
            end
        end
    end
    if #sets > 0 then redis.call('HSET', key, unpack(sets)) end
    if d.retry_of ~= nil and d.retry_of ~= NULL then
        redis.call('HSET', P .. 'retried', d.retry_of, id)
    end
    if #dels > 0 then redis.call('HDEL', key, unpack(dels)) end
    redis.call('RPUSH', P .. 'task-events:' .. id, unpack(ids))
    local state = old_state
    if wins and d.state ~= nil and d.state ~= NULL then state = d.state end
    if state then
        index(P, id, old_state, state, redis.call('HGET', key, 'state_ts') or '0')
    end
    if wins and d.state == 'complete' and d.duration ~= nil and d.duration ~= NULL then
        local lists = {P .. 'durations'}
        local name = d.task_name
        if name == nil or name == NULL then name = old[4] end
        if name then lists[2] = P .. 'durations:' .. name end
        for _, list in ipairs(lists) do
            redis.call('LPUSH', list, d.duration)
            redis.call('LTRIM', list, 0, cap - 1)
        end
    end
end

for _, op in ipairs(req.ops) do
    if op.flush then
        last = redis.call('XADD', P .. 'events', '*', unpack(op.e))
        local ts = op.flush
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'waiting', '-inf', ts)) do
            local key = P .. 'task:' .. id
            local old_state = redis.call('HGET', key, 'state')
            redis.call('HSET', key, 'state', 'flushed', 'state_ts', ts, 'finished_at', ts)
            index(P, id, old_state, 'flushed', ts)
        end
    else
        local ids = {}
        for i, fields in ipairs(op.e) do
            ids[i] = redis.call('XADD', P .. 'events', '*', unpack(fields))
        end
        last = ids[#ids]
        for _, t in ipairs(op.t) do
            local mine = {}
            for j, i in ipairs(t[3]) do mine[j] = ids[i] end
            merge(t[1], t[2], mine)
        end
    end
end
for _, w in ipairs(req.w) do
    local cid, name = w[1], w[2]
    local key = P .. 'worker:' .. cid .. ':' .. name
    redis.call('HSET', key, 'pid', w[3] == NULL and '' or w[3], 'state', w[4],
        'since', w[7], 'last_beat', w[8])
    if w[5] == NULL then
        redis.call('HDEL', key, 'task_id', 'task_name')
    else
        redis.call('HSET', key, 'task_id', w[5])
        if w[6] == NULL then redis.call('HDEL', key, 'task_name')
        else redis.call('HSET', key, 'task_name', w[6]) end
    end
    redis.call('SADD', P .. 'workers:' .. cid, name)
end
return last
"""
)

# ARGV: consumer id, now, heartbeat ttl in ms, then (name, pid, alive) triples.
_BEAT_LUA = """
local P, cid, now, ttl = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local ck = P .. 'consumer:' .. cid
local known = redis.call('EXISTS', ck)
if known == 1 then
    redis.call('HSET', ck, 'last_beat', now)
    redis.call('SET', P .. 'alive:' .. cid, now, 'PX', ttl)
end  -- unknown (Redis emptied by a restart): the caller registers again
for i = 4, #ARGV, 3 do
    local name, pid, alive = ARGV[i], ARGV[i + 1], ARGV[i + 2] == '1'
    local key = P .. 'worker:' .. cid .. ':' .. name
    if redis.call('EXISTS', key) == 0 then
        redis.call('HSET', key, 'pid', pid, 'state', 'idle', 'since', now)
        redis.call('SADD', P .. 'workers:' .. cid, name)
    elseif redis.call('HGET', key, 'state') ~= 'busy' then
        redis.call('HSET', key, 'pid', pid)
    end
    if alive then redis.call('HSET', key, 'last_beat', now) end
end
return known
"""

_STOPPED_LUA = """
local P, cid, now = KEYS[1], ARGV[1], ARGV[2]
local ck = P .. 'consumer:' .. cid
if redis.call('EXISTS', ck) == 1 then
    redis.call('HSET', ck, 'stopped_at', now, 'last_beat', now)
end
redis.call('DEL', P .. 'alive:' .. cid)
for _, name in ipairs(redis.call('SMEMBERS', P .. 'workers:' .. cid)) do
    local key = P .. 'worker:' .. cid .. ':' .. name
    redis.call('HSET', key, 'state', 'stopped', 'since', now)
    redis.call('HDEL', key, 'task_id', 'task_name')
end
"""

# ARGV: cutoff (exclusive), chunk.  Drops finished tasks whose state is older.
_DROP_TASKS_LUA = """
local P = KEYS[1]
local ids = redis.call('ZRANGEBYSCORE', P .. 'finished', '-inf', '(' .. ARGV[1],
    'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
    local key = P .. 'task:' .. id
    local state = redis.call('HGET', key, 'state')
    if state then redis.call('HINCRBY', P .. 'counts', state, -1) end
    redis.call('DEL', key, P .. 'task-events:' .. id)
    redis.call('ZREM', P .. 'tasks', id)
    redis.call('HDEL', P .. 'retried', id)
    redis.call('ZREM', P .. 'finished', id)
    redis.call('ZREM', P .. 'waiting', id)
    redis.call('SREM', P .. 'running', id)
end
return #ids
"""


def _num(value: Any) -> str | None:
    """A column value as the string Redis stores (floats by repr: it round-trips)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(value)


def _event_fields(ev: NewEvent, with_task: bool = True) -> list[str]:
    """A stream entry: ``e``, the event's columns as one JSON array, and ``d``, its data.

    Two fields rather than eight: a tail reads 1,000 entries, and redis-py's parser pays
    per field (measured: 15 ms for 1,000 entries of eight fields without hiredis).
    """
    task_id, task_name = (ev.task_id, ev.task_name) if with_task else (None, None)
    columns = [float(ev.ts), ev.kind, task_id, task_name, ev.pid, ev.worker]
    fields = ["e", dumps(columns)]
    if ev.data:
        fields += ["d", dumps(ev.data)]
    return fields


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _typed(column: str, raw: Any) -> Any:
    """A stored string back as the type SqliteJournal's column gives."""
    if raw is None:
        return None
    value = _text(raw)
    if column in _FLOATS:
        return float(value) if value != "" else None
    if column in _INTS:
        return int(float(value)) if value != "" else None
    return value


def _record(raw: dict[Any, Any], columns: Sequence[str]) -> dict[str, Any]:
    stored = {_text(k): v for k, v in raw.items()}
    return {c: _typed(c, stored.get(c)) for c in columns}


class RedisJournal(Journal):
    """The journal in Redis: a Stream of events, one hash per task, counts and indexes."""

    START: Cursor = "0-0"

    def __init__(
        self,
        connection_pool: redis.ConnectionPool | None = None,
        name: str = "huey",
        *,
        url: str | None = None,
        own_pool: bool = False,
    ) -> None:
        """Use ``connection_pool`` (a Redis Huey's own, so its URL and password) or open
        one from ``url``; the pool opened here (or given with ``own_pool``) is closed by
        ``close``."""
        if (connection_pool is None) == (url is None):
            raise ValueError("give either a connection pool or a URL")
        self._own_pool = connection_pool is None or own_pool
        self._pool = connection_pool or redis.ConnectionPool.from_url(url)
        self._r = redis.Redis(connection_pool=self._pool)
        self.name = name
        self.prefix = journal_prefix(name)
        self._events_key = self.prefix + "events"
        self._append = self._r.register_script(_APPEND_LUA)
        self._beat = self._r.register_script(_BEAT_LUA)
        self._stopped = self._r.register_script(_STOPPED_LUA)
        self._drop_tasks = self._r.register_script(_DROP_TASKS_LUA)

    @property
    def client(self) -> redis.Redis:
        """The Redis client, for the other Redis-side parts (liveness, in-flight)."""
        return self._r

    @property
    def location(self) -> str:
        return f"{redis_url(self._pool)} (keys {self.prefix}*)"

    # -- writing -----------------------------------------------------------------------
    def append(self, events: Iterable[NewEvent]) -> None:
        """Write a batch in one script call: events, task merges, counts, workers.

        The fold of each run of events between flushes is SqliteJournal's own
        (``fold_event``), so both journals summarise a batch alike; the script merges each
        task's delta into its stored hash by ``_MERGE``'s rules.
        """
        items = list(events)
        if not items:
            return
        ops: list[dict[str, Any]] = []
        run: list[NewEvent] = []
        workers: dict[tuple[str, str], list[str | None]] = {}
        for ev in items:
            if ev.kind == FLUSHED:
                if run:
                    ops.append(self._run(run))
                    run = []
                ops.append({"flush": repr(float(ev.ts)), "e": _event_fields(ev, False)})
                continue
            run.append(ev)
            if ev.consumer is not None and ev.worker is not None:
                ts = repr(float(ev.ts))
                if ev.kind == EXECUTING:
                    workers[(ev.consumer, ev.worker)] = [
                        ev.consumer,
                        ev.worker,
                        _num(ev.pid),
                        "busy",
                        ev.task_id,
                        ev.task_name,
                        ts,
                        ts,
                    ]
                elif ev.kind in WORKER_FREED:
                    workers[(ev.consumer, ev.worker)] = [
                        ev.consumer,
                        ev.worker,
                        _num(ev.pid),
                        "idle",
                        None,
                        None,
                        ts,
                        ts,
                    ]
        if run:
            ops.append(self._run(run))
        request = {"ops": ops, "w": list(workers.values()), "cap": str(DURATIONS_KEPT)}
        self._append(keys=[self.prefix], args=[json.dumps(request)])

    @staticmethod
    def _run(run: list[NewEvent]) -> dict[str, Any]:
        """One run of events without a flush: their fields and each task's delta, as a
        list in the order tasks first appear (new tasks get their ``seq`` in it)."""
        deltas: dict[str, dict[str, Any]] = {}
        positions: dict[str, list[int]] = {}
        for i, ev in enumerate(run, start=1):
            if ev.task_id is not None:
                delta = deltas.get(ev.task_id)
                if delta is None:
                    delta = deltas[ev.task_id] = {"attempts": 0}
                    positions[ev.task_id] = []
                positions[ev.task_id].append(i)
                fold_event(delta, ev)
        tasks = [
            [task_id, {c: _num(v) for c, v in delta.items()}, positions[task_id]]
            for task_id, delta in deltas.items()
        ]
        return {"e": [_event_fields(ev) for ev in run], "t": tasks}

    def register_consumer(self, consumer_id: str, **info: Any) -> None:
        now = repr(time.time())
        key = self.prefix + "consumer:" + consumer_id
        values = {"consumer_id": consumer_id, "started_at": now, "last_beat": now}
        # "storage": the kind of Huey storage, for ``--redis`` (not a consumers() column)
        for column in ("host", "pid", "target", "worker_type", "workers", "storage"):
            if info.get(column) is not None:
                values[column] = _num(info[column])
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=values)
        pipe.zadd(self.prefix + "consumers", {consumer_id: float(now)})
        pipe.set(self.prefix + "alive:" + consumer_id, now, px=int(ALIVE_TTL_S * 1000))
        pipe.execute()

    def beat(self, consumer_id: str, workers: Sequence[tuple[str, int, bool]]) -> bool:
        """Mark the consumer and its live workers as alive now; the consumer's ``alive``
        key expires ``ALIVE_TTL_S`` after its last beat, on the server's clock."""
        args: list[str] = [consumer_id, repr(time.time()), str(int(ALIVE_TTL_S * 1000))]
        for name, pid, alive in workers:
            args += [name, str(pid), "1" if alive else "0"]
        return bool(self._beat(keys=[self.prefix], args=args))

    def consumer_stopped(self, consumer_id: str) -> None:
        self._stopped(keys=[self.prefix], args=[consumer_id, repr(time.time())])

    # -- events ------------------------------------------------------------------------
    @staticmethod
    def _event(entry: tuple[Any, dict[Any, Any]]) -> Event:
        sid, fields = entry
        columns = json.loads(fields.get(b"e") or fields["e"])
        data = fields.get(b"d") or fields.get("d")
        return Event((_text(sid), *columns, _text(data)))

    def tail(self, after: Cursor = START, limit: int = 1000) -> list[Event]:
        start = "-" if after in (None, 0, "0", self.START) else f"({_text(after)}"
        entries = self._r.xrange(self._events_key, min=start, max="+", count=limit)
        return [self._event(e) for e in entries]

    def last_id(self) -> Cursor:
        entries = self._r.xrevrange(self._events_key, count=1)
        return _text(entries[0][0]) if entries else self.START

    def events_for(self, task_id: str) -> list[Event]:
        """A task's events by the stream ids listed for it (no scan of the stream)."""
        ids = self._r.lrange(self.prefix + "task-events:" + task_id, 0, -1)
        if not ids:
            return []
        pipe = self._r.pipeline(transaction=False)
        for sid in ids:
            pipe.xrange(self._events_key, min=sid, max=sid)
        return [self._event(e) for found in pipe.execute() for e in found]

    # -- tasks -------------------------------------------------------------------------
    def _task_rows(self, task_ids: Sequence[str]) -> list[dict[str, Any]]:
        pipe = self._r.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hgetall(self.prefix + "task:" + task_id)
        rows = []
        for raw in pipe.execute():
            if raw:
                row = _record(raw, (*_TASK_COLUMNS, "seq"))
                row["attempts"] = row["attempts"] or 0
                row["state_ts"] = row["state_ts"] or 0.0
                rows.append(row)
        return rows

    def task(self, task_id: str) -> dict[str, Any] | None:
        rows = self._task_rows([task_id])
        if not rows:
            return None
        record = rows[0]
        del record["seq"]
        for column in ("args", "kwargs"):
            if record[column] is not None:
                record[column] = json.loads(record[column])
        return record

    def tasks_by_ids(self, task_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Summary rows of the given tasks, with ``seq`` (creation order) as SQLite's."""
        return self._task_rows([i for i in task_ids if i])

    def find_tasks(self, prefix: str, limit: int = 5) -> list[str]:
        """Task ids that start with ``prefix``, from the ids sorted set (ZRANGEBYLEX)."""
        low = b"[" + prefix.encode()
        high = b"(" + prefix.encode() + b"\xff"  # 0xff never occurs in UTF-8
        found = self._r.zrangebylex(self.prefix + "tasks", low, high, start=0, num=limit)
        return [_text(t) for t in found]

    def running_tasks(self) -> list[dict[str, Any]]:
        """Tasks whose last state is executing (the running set), with their consumer."""
        ids = [_text(t) for t in self._r.smembers(self.prefix + "running")]
        if not ids:
            return []
        columns = ("task_id", "task_name", "worker", "pid", "consumer", "started_at")
        pipe = self._r.pipeline(transaction=False)
        for task_id in ids:
            pipe.hmget(self.prefix + "task:" + task_id, columns)
        rows = [
            {c: _typed(c, v) for c, v in zip(columns, values)}
            for values in pipe.execute()
            if values[0] is not None
        ]
        consumers = sorted({r["consumer"] for r in rows if r["consumer"]})
        pipe = self._r.pipeline(transaction=False)
        for cid in consumers:
            pipe.hmget(self.prefix + "consumer:" + cid, ("last_beat", "stopped_at"))
        beats = {
            cid: (_typed("last_beat", b), _typed("stopped_at", s))
            for cid, (b, s) in zip(consumers, pipe.execute())
        }
        for row in rows:
            row["last_beat"], row["stopped_at"] = beats.get(row["consumer"], (None, None))
        return rows

    def typical_duration(self, task_name: str | None = None, sample: int = 50) -> float | None:
        """The median of the latest completions' durations (at most ``DURATIONS_KEPT``)."""
        key = self.prefix + "durations" + ("" if task_name is None else ":" + task_name)
        values = sorted(float(v) for v in self._r.lrange(key, 0, max(sample, 1) - 1))
        return values[len(values) // 2] if values else None

    def enqueue_times(self, task_ids: Sequence[str]) -> dict[str, float]:
        ids = [i for i in task_ids if i]
        pipe = self._r.pipeline(transaction=False)
        for task_id in ids:
            pipe.hget(self.prefix + "task:" + task_id, "enqueued_at")
        return {i: float(v) for i, v in zip(ids, pipe.execute()) if v is not None}

    def tasks_in_state(
        self, state: str, after: Any = None, limit: int = 200
    ) -> tuple[list[dict[str, Any]], Any]:
        """Walks the waiting index (a sorted set by state time) from score ``after``."""
        low = "-inf" if after is None else f"({after!r}"
        entries = self._r.zrangebyscore(
            self.prefix + "waiting", low, "+inf", start=0, num=limit, withscores=True
        )
        if not entries:
            return [], None
        pipe = self._r.pipeline(transaction=False)
        for member, _ in entries:
            pipe.hmget(self.prefix + "task:" + _text(member), ("state", "task_name", "state_ts"))
        found = [
            {"task_id": _text(member), "task_name": _text(name), "state_ts": float(ts or 0)}
            for (member, _), (stored, name, ts) in zip(entries, pipe.execute())
            if _text(stored) == state
        ]
        return found, (entries[-1][1] if len(entries) == limit else None)

    def task_mark(self) -> int:
        """The creation counter (``seq``) of the newest task."""
        return int(self._r.get(self.prefix + "seq") or 0)

    def task_page(
        self,
        states: Collection[str],
        *,
        task_name: str | None = None,
        since: float | None = None,
        until: float | None = None,
        upto: Any = None,
        after: Any = None,
        limit: int = 500,
    ) -> tuple[list[dict[str, Any]], Any]:
        """By state time, from the index of ended tasks (``finished``) or of waiting
        ones (``waiting``), whichever holds ``states``; ``after`` is the (score, id) of
        the last entry read (a sorted set orders equal scores by member)."""
        wanted = set(states)
        if wanted <= set(FINAL_STATES):
            key = self.prefix + "finished"
        elif wanted <= set(_FLUSHABLE):
            key = self.prefix + "waiting"
        else:
            raise ValueError(f"states {sorted(wanted)} are neither all ended nor all waiting")
        low = "-inf" if since is None else repr(float(since))
        high = "+inf" if until is None else repr(float(until))
        entries: list[tuple[Any, float]] = []
        num = limit
        while True:
            if after is not None:
                low = repr(float(after[0]))
            entries = self._r.zrangebyscore(key, low, high, start=0, num=num, withscores=True)
            full = len(entries) == num
            if after is not None:  # drop what the last page ended with (equal scores)
                entries = [(m, sc) for m, sc in entries if sc > after[0] or _text(m) > after[1]]
            if entries or not full:
                break
            num *= 2  # a whole page of equal scores already read: read further
        if not entries:
            return [], None
        rows = [
            row
            for row in self._task_rows([_text(m) for m, _ in entries])
            if row["state"] in wanted
            and (task_name is None or row["task_name"] == task_name)
            and (upto is None or (row["seq"] or 0) <= upto)
        ]
        last_member, last_score = entries[-1]
        return rows, ((last_score, _text(last_member)) if full else None)

    def retries_of(self, task_ids: Sequence[str]) -> dict[str, str]:
        ids = [i for i in task_ids if i]
        if not ids:
            return {}
        found = self._r.hmget(self.prefix + "retried", ids)
        return {i: _text(r) for i, r in zip(ids, found) if r is not None}

    def state_counts(self) -> dict[str, int]:
        """Tasks per state, from the counts hash the append script keeps (no scan)."""
        counts = self._r.hgetall(self.prefix + "counts")
        return {_text(s): int(n) for s, n in counts.items() if int(n) > 0}

    # -- consumers and workers ---------------------------------------------------------
    def consumers(self) -> list[dict[str, Any]]:
        ids = [_text(c) for c in self._r.zrange(self.prefix + "consumers", 0, -1)]
        pipe = self._r.pipeline(transaction=False)
        for cid in ids:
            pipe.hgetall(self.prefix + "consumer:" + cid)
        return [_record(raw, _CONSUMER_COLUMNS) for raw in pipe.execute() if raw]

    def workers(self) -> list[dict[str, Any]]:
        consumers = self.consumers()
        pipe = self._r.pipeline(transaction=False)
        for c in consumers:
            pipe.smembers(self.prefix + "workers:" + c["consumer_id"])
        keys = [
            (c, name)
            for c, names in zip(consumers, pipe.execute())
            for name in sorted(_text(n) for n in names)
        ]
        pipe = self._r.pipeline(transaction=False)
        for c, name in keys:
            pipe.hgetall(f"{self.prefix}worker:{c['consumer_id']}:{name}")
        out = []
        for (c, name), raw in zip(keys, pipe.execute()):
            row = _record(raw, (*_WORKER_COLUMNS, "last_beat"))
            row.update(consumer_id=c["consumer_id"], name=name, host=c["host"])
            row["consumer_stopped_at"] = c["stopped_at"]
            row["consumer_beat"] = c["last_beat"]
            out.append(row)
        return out

    def live_consumers(self) -> set[str]:
        """Consumers not stopped whose ``alive`` key has not expired: liveness by the
        server's clock, so machines whose clocks differ agree on who is gone."""
        ids = [c["consumer_id"] for c in self.consumers() if not c["stopped_at"]]
        pipe = self._r.pipeline(transaction=False)
        for cid in ids:
            pipe.exists(self.prefix + "alive:" + cid)
        return {cid for cid, alive in zip(ids, pipe.execute()) if alive}

    def heartbeat_expired(self, consumer_id: str) -> bool | None:
        """True once the consumer's ``alive`` key has expired (by the server's clock),
        False while it lives; a pid means nothing on another host, this does."""
        if not self._r.exists(self.prefix + "consumer:" + consumer_id):
            return None
        return not self._r.exists(self.prefix + "alive:" + consumer_id)

    # -- upkeep ------------------------------------------------------------------------
    def _first_id_at(self, ts: float) -> str:
        """The lowest stream id to keep for events at ``ts`` or later, by binary search
        on the ids' milliseconds (as SqliteJournal searches its ids), then within the
        millisecond where the search ends (one batch's events share one)."""
        first = self._r.xrange(self._events_key, count=1)
        if not first:
            return "0-1"
        lo = int(_text(first[0][0]).split("-")[0])
        hi = int(_text(self.last_id()).split("-")[0]) + 1
        while lo < hi:
            mid = (lo + hi) // 2
            found = self._r.xrange(self._events_key, min=f"{mid}-0", count=1)
            if not found or self._event(found[0]).ts >= ts:
                hi = mid
            else:
                lo = int(_text(found[0][0]).split("-")[0]) + 1
        before = self._r.xrevrange(self._events_key, max=f"({lo}-0", count=1)
        if before:
            ms = _text(before[0][0]).split("-")[0]
            group = self._r.xrange(self._events_key, min=f"{ms}-0", max=f"{ms}-{2**64 - 1}")
            for entry in group:
                if self._event(entry).ts >= ts:
                    return _text(entry[0])
        return f"{lo}-0"

    def prune(self, keep_events: int | None = None, max_age_s: float | None = None) -> int:
        """Trim the stream (XTRIM MAXLEN, MINID), drop finished tasks older than the age,
        and consumers silent since then that no running task names."""
        removed = 0
        if keep_events is not None:
            removed += self._r.xtrim(self._events_key, maxlen=keep_events, approximate=False)
        if max_age_s is not None:
            cutoff = time.time() - max_age_s
            first_kept = self._first_id_at(cutoff)
            removed += self._r.xtrim(self._events_key, minid=first_kept, approximate=False)
            while self._drop_tasks(keys=[self.prefix], args=[repr(cutoff), PRUNE_CHUNK]) == (
                PRUNE_CHUNK
            ):
                pass
            running = {r["consumer"] for r in self.running_tasks()}
            for c in self.consumers():
                if (c["last_beat"] or 0) < cutoff and c["consumer_id"] not in running:
                    self._drop_consumer(c["consumer_id"])
        return removed

    def _drop_consumer(self, consumer_id: str) -> None:
        names = self._r.smembers(self.prefix + "workers:" + consumer_id)
        pipe = self._r.pipeline(transaction=True)
        for name in names:
            pipe.delete(f"{self.prefix}worker:{consumer_id}:{_text(name)}")
        pipe.delete(
            self.prefix + "workers:" + consumer_id,
            self.prefix + "consumer:" + consumer_id,
            self.prefix + "alive:" + consumer_id,
        )
        pipe.zrem(self.prefix + "consumers", consumer_id)
        pipe.execute()

    def epoch(self) -> str:
        """The ``epoch`` key, set by whoever asks first (SET NX): FLUSHDB, or a restart
        without persistence, takes it away with the stream, and the next caller sets a
        new one, so that a window's copy of the journal knows to start again."""
        key = self.prefix + "epoch"
        pipe = self._r.pipeline(transaction=False)
        pipe.set(key, uuid.uuid4().hex, nx=True)
        pipe.get(key)
        return _text(pipe.execute()[1])

    def close(self) -> None:
        """Close the connections of a pool opened here (a Huey's own pool stays open)."""
        self._r.close()
        if self._own_pool:
            self._pool.disconnect()
