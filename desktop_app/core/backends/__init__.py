"""Storage backends: the journal, in-flight tracking and kept messages, per Huey storage.

The backend is chosen here, from the attached Huey instance's storage, and nowhere else:
the consumer, recovery and the dispatcher call these functions and never ask which
storage it is.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core import paths
from desktop_app.core.journal import Journal, NewEvent, SqliteJournal

SQLITE = "sqlite"
REDIS = "redis"
# The redis-py connection classes a journal spec may name (nothing else is imported).
_CONNECTION_CLASSES = ("Connection", "UnixDomainSocketConnection", "SSLConnection")


def _redis_storage(huey: Any) -> Any:
    """The storage of ``huey`` when it is a Redis one (any kind), else None."""
    from huey.storage import RedisStorage

    storage = getattr(huey, "storage", None)
    return storage if isinstance(storage, RedisStorage) else None


def is_redis(huey: Any) -> bool:
    """True for a Redis-backed Huey (list, priority or expire storage)."""
    return _redis_storage(huey) is not None


def connection_fault(exc: BaseException) -> str | None:
    """One sentence for a storage server that cannot be reached (Redis down, restarting,
    a timeout), or None for any other error.  Such faults pass: callers retry them."""
    redis = sys.modules.get("redis")
    if redis is None or not isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return None
    detail = str(exc).strip().rstrip(".") or type(exc).__name__
    return f"Redis cannot be reached ({detail}); retrying."


def check_attached_name(huey: Any, given: bool) -> None:
    """For a queue attached by URL and name (``--redis``): refuse a name under which
    nothing is stored, in one sentence saying which names there are.  ``given``: the
    name came from ``--name`` (else it is the default, ``huey``)."""
    if _redis_storage(huey) is None:
        return
    from desktop_app.core.backends.redis.names import check_name

    check_name(huey, given)


def unreachable(huey: Any, exc: BaseException | None) -> str | None:
    """The sentence 'Redis at URL is unreachable' (no password) when ``exc`` says that
    ``huey``'s storage server cannot be reached, else None (SQLite is a file)."""
    if exc is None or _redis_storage(huey) is None or connection_fault(exc) is None:
        return None
    return f"Redis at {paths.storage_location(huey)} is unreachable"


def journal_for(huey: Any, path_override: str | os.PathLike[str] | None = None) -> Journal:
    """The journal for ``huey``, chosen once from its storage.

    A Redis-backed Huey (``RedisStorage`` and its priority and expire kinds) gets a
    ``RedisJournal`` on that storage's own connection pool, so the URL and password are
    the project's; any other storage a ``SqliteJournal`` at ``path_override`` or at
    ``paths.journal_path_for(huey)``.  The redis package is imported only for Redis.
    """
    storage = _redis_storage(huey)
    if storage is not None:
        from desktop_app.core.backends.redis.journal import RedisJournal

        return RedisJournal(storage.pool, name=huey.name)
    return SqliteJournal(path_override or paths.journal_path_for(huey))


@dataclass(frozen=True)
class JournalSpec:
    """How another process (the journal writer) reopens a journal: plain data only.

    It travels as JSON on the writer's standard input, never on its command line, where
    ``ps`` would show a Redis password.
    """

    kind: str
    path: str | None = None
    name: str | None = None
    connection_class: str | None = None
    connection: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def sqlite(cls, path: str | os.PathLike[str]) -> JournalSpec:
        return cls(SQLITE, path=str(path))

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "path": self.path,
                "name": self.name,
                "connection_class": self.connection_class,
                "connection": self.connection,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> JournalSpec:
        raw = json.loads(text)
        return cls(
            raw["kind"],
            path=raw.get("path"),
            name=raw.get("name"),
            connection_class=raw.get("connection_class"),
            connection=raw.get("connection") or {},
        )

    @property
    def location(self) -> str:
        """Where the journal is, for messages (no password)."""
        if self.kind == SQLITE:
            return str(self.path)
        where = self.connection.get("path") or (
            f"{self.connection.get('host', 'localhost')}:{self.connection.get('port', 6379)}"
        )
        return f"redis {where} (journal {self.name})"

    def open(self) -> Journal:
        """A journal on this spec, with its own connections (closed by its ``close``)."""
        if self.kind == SQLITE:
            return SqliteJournal(self.path or "")
        if self.kind != REDIS:
            raise ValueError(f"unknown journal kind: {self.kind}")
        import redis

        from desktop_app.core.backends.redis.journal import RedisJournal

        if self.connection_class not in _CONNECTION_CLASSES:
            raise ValueError(f"unknown Redis connection class: {self.connection_class}")
        cls = getattr(redis.connection, self.connection_class)
        pool = redis.ConnectionPool(connection_class=cls, **self.connection)
        return RedisJournal(pool, name=self.name or "huey", own_pool=True)


def journal_spec(huey: Any, path_override: str | os.PathLike[str] | None = None) -> JournalSpec:
    """The spec of ``journal_for(huey, path_override)``, for a process that reopens it."""
    storage = _redis_storage(huey)
    if storage is None:
        return JournalSpec.sqlite(path_override or paths.journal_path_for(huey))
    pool = storage.pool
    plain = {
        k: v
        for k, v in pool.connection_kwargs.items()
        if isinstance(v, str | int | float | bool) or v is None
    }
    return JournalSpec(
        REDIS,
        name=huey.name,
        connection_class=pool.connection_class.__name__,
        connection=plain,
    )


def inflight_for(
    huey: Any,
    consumer_id: str,
    worker_type: str = "thread",
    *,
    target: str | None = None,
    report: Callable[[NewEvent], None] | None = None,
) -> Any:
    """The in-flight tracker for the workers of one consumer, or None when the storage
    has none (its messages are then recovered from the journal alone)."""
    from huey.storage import SqliteStorage

    if _redis_storage(huey) is not None:
        from desktop_app.core.backends.redis.inflight import RedisInFlight

        return RedisInFlight(huey, consumer_id, worker_type, target=target, report=report)
    if isinstance(huey.storage, SqliteStorage):
        from desktop_app.core.inflight import InFlight

        return InFlight(huey, consumer_id, worker_type, target=target, report=report)
    return None


def inflight_store(huey: Any) -> Any:
    """What recovery reads and claims in-flight messages through (None: not tracked)."""
    from huey.storage import SqliteStorage

    if _redis_storage(huey) is not None:
        from desktop_app.core.backends.redis.inflight import RedisInFlightStore

        return RedisInFlightStore(huey)
    if isinstance(huey.storage, SqliteStorage):
        from desktop_app.core.inflight import SqliteInFlightStore

        return SqliteInFlightStore(huey.storage)
    return None


def enqueue_many(huey: Any, messages: list[tuple[bytes, float | None]]) -> None:
    """Put serialized messages (data, priority) on the queue in one write: one SQLite
    transaction, or one MULTI/EXEC on Redis, as Huey's own ``enqueue`` would write each
    (the same row; the same list push, or sorted-set entry with its time prefix); any
    other storage one message at a time.  All or none on SQLite and Redis."""
    storage = huey.storage
    if not messages:
        return
    from huey.storage import SqliteStorage

    if isinstance(storage, SqliteStorage):
        with storage.db(commit=True) as cursor:
            cursor.executemany(
                "INSERT INTO task (queue, data, priority) VALUES (?, ?, ?)",
                [(storage.name, storage.to_blob(d), p or 0) for d, p in messages],
            )
    elif _redis_storage(huey) is not None:
        from desktop_app.core.backends.redis.enqueue import enqueue_many as redis_many

        redis_many(storage, messages)
    else:
        for data, priority in messages:
            storage.enqueue(data, priority)


def waiting_for(huey: Any) -> Any:
    """What ``run_now`` finds and moves waiting messages through (``backends/waiting.py``);
    a storage that cannot move one atomically refuses in a sentence."""
    from huey.storage import SqliteStorage

    from desktop_app.core.backends import waiting

    if _redis_storage(huey) is not None:
        from desktop_app.core.backends.redis.waiting import RedisWaiting

        return RedisWaiting(huey)
    if isinstance(huey.storage, SqliteStorage):
        return waiting.SqliteWaiting(huey)
    return waiting.WaitingMessages(huey)


def limits_note(huey: Any) -> str | None:
    """What Huey Desk cannot do on a storage that has no backend of its own (neither
    SQLite nor Redis: huey.contrib.sql_huey, FileHuey, ...), in a sentence; else None."""
    from huey.storage import SqliteStorage

    storage = huey.storage
    if isinstance(storage, SqliteStorage) or is_redis(huey):
        return None
    return (
        f"{type(storage).__name__} has no Huey Desk backend of its own: the queue is read "
        "through Huey's storage API, the journal is a SQLite file on this machine "
        f"({paths.journal_path_for(huey)}), so only consumers here report; nothing records "
        "a task taken from the queue before it starts (one lost with its consumer leaves no "
        "trace), and idle workers poll every 250 ms instead of waking at once."
    )
