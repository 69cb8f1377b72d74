"""Messages kept for a re-run in Redis, beside a Redis Huey's keys (as ``kept.py`` on SQLite).

A kept message is one hash, ``huey-desk:{name}:kept:<id>`` (table, task id and name, the
exact bytes as the queue holds them, consumer, worker, error, time), indexed by task id
per table and by time.  The tables are SQLite's names (``desk_interrupted``,
``desk_unrunnable``), so ``Dispatcher.retry`` treats both backends alike.  Requeue moves
the bytes back onto Huey's queue in one script: exactly once across callers.
"""

from __future__ import annotations

from typing import Any

from desktop_app.core.kept import KEPT_TABLES, KeptMessage

# KEYS[1]: our prefix.  ARGV: table, task id ('' when unknown), task name, data, score,
# consumer, worker, error, now.  Returns the new kept id.  (Used inside other scripts.)
KEEP_LUA_FN = """
local function keep(P, table, task_id, task_name, data, score, consumer, worker, err, now)
    local id = redis.call('INCR', P .. 'kept-seq')
    local key = P .. 'kept:' .. id
    redis.call('HSET', key, 'table', table, 'data', data, 'score', score, 'at', now,
        'consumer', consumer, 'worker', worker)
    if task_id ~= '' then
        redis.call('HSET', key, 'task_id', task_id)
        redis.call('HSET', P .. 'kept-by-task:' .. table, task_id, id)
    end
    if task_name ~= '' then redis.call('HSET', key, 'task_name', task_name) end
    if err ~= '' then redis.call('HSET', key, 'error', err) end
    redis.call('ZADD', P .. 'kept-at', now, id)
    return id
end
"""

# KEYS[1]: prefix, KEYS[2]: Huey's queue.  ARGV[1]: kept id, ARGV[2]: '1' for a priority
# queue (a sorted set: the member goes back with its score, so in its old place).
REQUEUE_LUA = """
local P, id = KEYS[1], ARGV[1]
local key = P .. 'kept:' .. id
local v = redis.call('HMGET', key, 'data', 'score', 'table', 'task_id')
if not v[1] then return 0 end
redis.call('DEL', key)
redis.call('ZREM', P .. 'kept-at', id)
if v[4] and redis.call('HGET', P .. 'kept-by-task:' .. v[3], v[4]) == id then
    redis.call('HDEL', P .. 'kept-by-task:' .. v[3], v[4])
end
if ARGV[2] == '1' then
    redis.call('ZADD', KEYS[2], tonumber(v[2] or '0'), v[1])
else
    redis.call('LPUSH', KEYS[2], v[1])
end
return 1
"""


def prefix_of(storage: Any) -> str:
    """The prefix of Huey Desk's keys beside this storage (as ``RedisJournal``'s)."""
    return f"huey-desk:{{{storage.name}}}:"


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def find_kept(storage: Any, task_id: str) -> KeptMessage | None:
    """The newest kept message of ``task_id`` (an interruption first), or None."""
    prefix = prefix_of(storage)
    conn = storage.conn
    for table in KEPT_TABLES:
        found = conn.hget(prefix + "kept-by-task:" + table, task_id)
        if found is None:
            continue
        name = conn.hget(prefix + "kept:" + _text(found), "task_name")
        if conn.exists(prefix + "kept:" + _text(found)):
            return KeptMessage(table, int(found), task_id, _text(name))
    return None


def kept_among(storage: Any, task_ids: list[str]) -> set[str]:
    """Which of these tasks have a kept message (one HMGET per table)."""
    prefix = prefix_of(storage)
    found: set[str] = set()
    for table in KEPT_TABLES:
        kept = storage.conn.hmget(prefix + "kept-by-task:" + table, task_ids)
        found.update(i for i, k in zip(task_ids, kept) if k is not None)
    return found


def requeue(storage: Any, table: str, row_id: int) -> bool:
    """Put a kept message back on Huey's queue, exactly once (False: someone else did)."""
    if table not in KEPT_TABLES:
        raise ValueError(f"not a table of kept messages: {table}")
    script = storage.conn.register_script(REQUEUE_LUA)
    priority = "1" if getattr(storage, "priority", False) else "0"
    return bool(script(keys=[prefix_of(storage), storage.queue_key], args=[row_id, priority]))


def kept_messages(storage: Any, table: str, limit: int = 100) -> list[dict[str, Any]]:
    """Kept messages of one table, newest first (at most ``limit`` looked at)."""
    prefix = prefix_of(storage)
    conn = storage.conn
    ids = conn.zrevrange(prefix + "kept-at", 0, max(limit, 1) * 4)
    pipe = conn.pipeline(transaction=False)
    for kid in ids:
        pipe.hmget(
            prefix + "kept:" + _text(kid), ("table", "task_id", "task_name", "consumer", "worker")
        )
        pipe.zscore(prefix + "kept-at", kid)
    values = pipe.execute()
    out = []
    for i in range(0, len(values), 2):
        fields, at = values[i], values[i + 1]
        if _text(fields[0]) != table:
            continue
        out.append(
            {
                "task_id": _text(fields[1]),
                "task_name": _text(fields[2]),
                "consumer": _text(fields[3]),
                "worker": _text(fields[4]),
                "interrupted_at": at,
            }
        )
        if len(out) >= limit:
            break
    return out
