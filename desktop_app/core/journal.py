"""The event journal: every task's life, durable, append-only, read by cursor.

Huey keeps no record of what ran, where, or how it ended: that exists only in signals,
fired in the consumer process.  The journal is where those signals land, so the window,
the command line and later sessions can read them.  Readers ask for "events after N"
and pay only for the new ones.  ``Journal`` is the interface; ``SqliteJournal`` is the
storage used today (a Redis journal for Redis-backed Huey can implement the same).
"""

from __future__ import annotations

import abc
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.core.errors import QueueBusyError, UserError
from desktop_app.core.paths import ensure_private_file
from desktop_app.core.states import (  # noqa: F401  (re-exported for callers)
    CANCELED,
    COMPLETE,
    ENQUEUED,
    ERROR,
    EXECUTING,
    EXPIRED,
    FINAL_STATES,
    FLUSHED,
    INTERRUPTED,
    LOCKED,
    PROGRESS,
    RATE_LIMITED,
    RESTORED,
    RETRYING,
    REVOKED,
    SCHEDULED,
    STATE_OF,
    TIMEOUT,
)
from desktop_app.core.storage_errors import is_busy

# A consumer whose last heartbeat is older than this is taken for dead.
STALE_AFTER_S = 5.0
BUSY_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    task_id TEXT,
    task_name TEXT,
    pid INTEGER,
    worker TEXT,
    data TEXT
);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    task_name TEXT,
    state TEXT,
    state_ts REAL NOT NULL DEFAULT 0,
    enqueued_at REAL,
    eta TEXT,
    started_at REAL,
    finished_at REAL,
    duration REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    consumer TEXT,
    worker TEXT,
    pid INTEGER,
    priority REAL,
    retries INTEGER,
    args TEXT,
    kwargs TEXT,
    args_exact INTEGER,
    args_preview TEXT,
    result_preview TEXT,
    error TEXT,
    traceback TEXT,
    progress REAL,
    progress_message TEXT,
    retry_of TEXT,
    first_event INTEGER,
    last_event INTEGER
);
-- On state alone, so that rowid (creation order) follows within a state: the window
-- pages "newest first" through one state without sorting.
DROP INDEX IF EXISTS tasks_state;
CREATE INDEX IF NOT EXISTS tasks_state_id ON tasks (state);
CREATE INDEX IF NOT EXISTS tasks_name ON tasks (task_name);
-- Which tasks retry which: a bulk retry skips a task that has a retry already.
CREATE INDEX IF NOT EXISTS tasks_retry_of ON tasks (retry_of) WHERE retry_of IS NOT NULL;
-- The worker timeline reads runs by time: a range of starts, the end filtered in the
-- index (core/timeline.py).  Made on first open of an older journal (IF NOT EXISTS).
CREATE INDEX IF NOT EXISTS tasks_started ON tasks (started_at, finished_at);
CREATE TABLE IF NOT EXISTS consumers (
    consumer_id TEXT PRIMARY KEY,
    host TEXT,
    pid INTEGER,
    target TEXT,
    worker_type TEXT,
    workers INTEGER,
    started_at REAL,
    last_beat REAL,
    stopped_at REAL
);
CREATE TABLE IF NOT EXISTS workers (
    consumer_id TEXT NOT NULL,
    name TEXT NOT NULL,
    pid INTEGER,
    state TEXT,
    task_id TEXT,
    task_name TEXT,
    since REAL,
    last_beat REAL,
    PRIMARY KEY (consumer_id, name)
);
"""

# Tasks per state, kept by triggers as tasks change, so that counting a million tasks
# is a read of a few rows instead of a scan (measured: 130 ms GROUP BY at 1M tasks).
_COUNTS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS task_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL) "
    "WITHOUT ROWID",
    "DELETE FROM task_counts",
    "INSERT INTO task_counts SELECT state, count(*) FROM tasks WHERE state IS NOT NULL "
    "GROUP BY state",
    """CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks WHEN new.state IS NOT NULL
    BEGIN
        INSERT INTO task_counts VALUES (new.state, 1)
            ON CONFLICT (state) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER task_counts_update AFTER UPDATE OF state ON tasks
    WHEN old.state IS NOT new.state BEGIN
        UPDATE task_counts SET n = n - 1 WHERE state = old.state;
        INSERT INTO task_counts SELECT new.state, 1 WHERE new.state IS NOT NULL
            ON CONFLICT (state) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks WHEN old.state IS NOT NULL
    BEGIN
        UPDATE task_counts SET n = n - 1 WHERE state = old.state;
    END""",
)

# Which task columns an event of each kind sets, from the event's data.
_TASK_COLUMNS = {
    ENQUEUED: ("args", "kwargs", "args_exact", "args_preview", "priority", "retry_of", "eta"),
    SCHEDULED: ("args", "kwargs", "args_exact", "args_preview", "priority", "eta"),
    EXECUTING: ("args", "kwargs", "args_exact", "args_preview", "priority", "retries"),
    PROGRESS: ("progress", "progress_message"),
    COMPLETE: ("duration", "result_preview"),
    ERROR: ("duration", "error", "traceback", "retries"),
    RETRYING: ("retries",),
    INTERRUPTED: ("duration", "error"),
    TIMEOUT: ("duration", "error"),
    CANCELED: ("error",),
    LOCKED: ("error",),
    RATE_LIMITED: ("error",),
}


_WORKER_UPSERT = (
    "INSERT INTO workers (consumer_id, name, pid, state, task_id, task_name, since, last_beat) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (consumer_id, name) DO UPDATE SET "
    "pid = excluded.pid, state = excluded.state, task_id = excluded.task_id, "
    "task_name = excluded.task_name, since = excluded.since, last_beat = excluded.last_beat"
)
# A local copy of a shared journal: the source's cursor, and its summaries copied as
# they are (only the event span is local: first and last event are ids in this file).
# ``epoch``: the source's ``Journal.epoch()`` when the copy began (another epoch: the
# source was emptied, and the copy starts again).
_MIRROR_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS mirror_source (source TEXT PRIMARY KEY, cursor TEXT, epoch TEXT)"
)
# One row: the random id this journal file was given when it was made (``epoch``).
_EPOCH_SCHEMA = "CREATE TABLE IF NOT EXISTS journal_epoch (epoch TEXT NOT NULL)"
# A task summary's columns, in the order of the ``tasks`` table (the Redis journal keeps
# the same fields in each task's hash).
SUMMARY_COLUMNS = (
    "task_id",
    "task_name",
    "state",
    "state_ts",
    "enqueued_at",
    "eta",
    "started_at",
    "finished_at",
    "duration",
    "attempts",
    "consumer",
    "worker",
    "pid",
    "priority",
    "retries",
    "args",
    "kwargs",
    "args_exact",
    "args_preview",
    "result_preview",
    "error",
    "traceback",
    "progress",
    "progress_message",
    "retry_of",
    "first_event",
    "last_event",
)
_MIRRORED_COLUMNS = tuple(
    c for c in SUMMARY_COLUMNS if c not in ("task_id", "first_event", "last_event")
)
_MIRROR_UPSERT = (
    f"INSERT INTO tasks (task_id, {', '.join(_MIRRORED_COLUMNS)}, first_event, last_event) "
    f"VALUES (?{', ?' * len(_MIRRORED_COLUMNS)}, ?, ?) ON CONFLICT (task_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _MIRRORED_COLUMNS)
    + ", first_event = coalesce(tasks.first_event, excluded.first_event), "
    "last_event = excluded.last_event"
)
# How a folded column merges into the stored row (default: the new value replaces it).
_MERGE = {
    "task_name": "coalesce(excluded.task_name, tasks.task_name)",
    "state": "CASE WHEN excluded.state_ts >= tasks.state_ts THEN excluded.state "
    "ELSE tasks.state END",
    "state_ts": "max(tasks.state_ts, excluded.state_ts)",
    "enqueued_at": "coalesce(tasks.enqueued_at, excluded.enqueued_at)",
    "attempts": "tasks.attempts + excluded.attempts",
    "first_event": "coalesce(tasks.first_event, excluded.first_event)",
}
# Columns that describe the task's latest run: a batch older than what is stored (a dead
# consumer's writer flushing late, after recovery journalled the task interrupted) must
# not overwrite them, as it cannot overwrite the state.
LATEST_RUN_COLUMNS = (
    "started_at",
    "finished_at",
    "duration",
    "worker",
    "pid",
    "consumer",
    "error",
    "traceback",
    "result_preview",
)
for _column in LATEST_RUN_COLUMNS:
    _MERGE[_column] = (
        f"CASE WHEN excluded.state_ts >= tasks.state_ts THEN excluded.{_column} "
        f"ELSE tasks.{_column} END"
    )
_upserts: dict[tuple[str, ...], str] = {}
# Events after which the worker that fired them is free again.
WORKER_FREED = frozenset(
    (COMPLETE, ERROR, INTERRUPTED, TIMEOUT, CANCELED, LOCKED, RATE_LIMITED, RETRYING)
)
# One encoder, made once: json.dumps with options builds a new encoder on every call.
dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _task_upsert(columns: tuple[str, ...]) -> str:
    """The upsert statement for a delta with these columns (cached: few shapes recur)."""
    sql = _upserts.get(columns)
    if sql is None:
        sets = ", ".join(f"{c} = {_MERGE.get(c, 'excluded.' + c)}" for c in columns)
        sql = (
            f"INSERT INTO tasks (task_id, {', '.join(columns)}) "
            f"VALUES (?{', ?' * len(columns)}) ON CONFLICT (task_id) DO UPDATE SET {sets}"
        )
        _upserts[columns] = sql
    return sql


_EVENT_INSERT = (
    "INSERT INTO events (ts, kind, task_id, task_name, pid, worker, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _event_row(ev: NewEvent | Event) -> tuple[Any, ...]:
    """An event as a row of the ``events`` table (its data as compact JSON)."""
    return (
        ev.ts,
        ev.kind,
        ev.task_id,
        ev.task_name,
        ev.pid,
        ev.worker,
        dumps(ev.data) if ev.data else None,
    )


def fold_event(delta: dict[str, Any], ev: NewEvent) -> None:
    """Apply one event to a task's pending change, in the order events happened."""
    if ev.task_name is not None:
        delta["task_name"] = ev.task_name
    state = STATE_OF.get(ev.kind)
    if state is not None and ev.ts >= delta.get("state_ts", float("-inf")):
        delta["state"], delta["state_ts"] = state, ev.ts
    if ev.kind in (ENQUEUED, SCHEDULED):
        delta.setdefault("enqueued_at", ev.ts)
    elif ev.kind == EXECUTING:
        delta.update(
            started_at=ev.ts,
            finished_at=None,
            duration=None,
            worker=ev.worker,
            pid=ev.pid,
            consumer=ev.consumer,
            progress=None,
            progress_message=None,
            error=None,
            traceback=None,
        )
        delta["attempts"] += 1
    elif ev.kind == RESTORED:
        delta["finished_at"] = None
    elif state in FINAL_STATES:
        delta["finished_at"] = ev.ts
    data = ev.data
    for column in _TASK_COLUMNS.get(ev.kind, ()):
        if column in data:
            value = data[column]
            if column in ("args", "kwargs"):
                value = dumps(value)
            delta[column] = value


@dataclass
class NewEvent:
    """An event to append; ``data`` must be JSON-safe."""

    kind: str
    task_id: str | None = None
    task_name: str | None = None
    ts: float = field(default_factory=time.time)
    pid: int | None = None
    worker: str | None = None
    consumer: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Event:
    """One stored event; ``data`` is parsed on first use, so a tail read stays cheap."""

    __slots__ = ("_data", "_raw", "id", "kind", "pid", "task_id", "task_name", "ts", "worker")

    def __init__(self, row: Sequence[Any]) -> None:
        (
            self.id,
            self.ts,
            self.kind,
            self.task_id,
            self.task_name,
            self.pid,
            self.worker,
            self._raw,
        ) = row
        self._data: dict[str, Any] | None = None

    @property
    def cursor(self) -> Cursor:
        """Where this event stands in the journal, for ``tail(after=...)``."""
        return self.id

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = json.loads(self._raw) if self._raw else {}
        return self._data

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "kind": self.kind,
            "task_id": self.task_id,
            "task_name": self.task_name,
            "pid": self.pid,
            "worker": self.worker,
            "data": self.data,
        }

    def __repr__(self) -> str:
        return f"Event({self.id}, {self.kind!r}, {self.task_id!r})"


def _first_id_at(conn: sqlite3.Connection, ts: float) -> int:
    """The first event id whose time is ``ts`` or later, by binary search on the id.

    Events are appended in time order (give or take the few milliseconds by which
    writers in different processes race), so ids stand in for an index on time that
    every insert would otherwise have to maintain.
    """
    lo, hi = conn.execute(
        "SELECT coalesce(min(id), 1), coalesce(max(id), 0) + 1 FROM events"
    ).fetchone()
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute(
            "SELECT id, ts FROM events WHERE id >= ? ORDER BY id LIMIT 1", (mid,)
        ).fetchone()
        if row is None or row[1] >= ts:
            hi = mid
        else:
            lo = row[0] + 1
    return lo


# A position in the journal's event order, as ``Event.cursor`` gives it and ``tail``
# takes it back: an int for SQLite (the event id), a stream id for Redis.  Callers only
# pass it back and compare it for equality; ``Journal.START`` reads from the beginning.
Cursor = Any


class Journal(abc.ABC):
    """Append events, read them back by cursor, and keep task and worker summaries.

    Everything the window, the command line, the consumer and recovery read or write
    besides Huey's own data goes through these methods, so that another storage (Redis,
    shared by consumers on several machines) can stand in for SQLite.
    """

    START: Cursor = 0

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the journal lives, for messages (a file, or a Redis key prefix)."""

    # -- writing ---------------------------------------------------------------------
    @abc.abstractmethod
    def append(self, events: Iterable[NewEvent]) -> None:
        """Write a batch of events and fold them into the task and worker summaries."""

    @abc.abstractmethod
    def register_consumer(self, consumer_id: str, **info: Any) -> None:
        """Record a consumer that starts (host, pid, target, worker_type, workers)."""

    @abc.abstractmethod
    def beat(self, consumer_id: str, workers: Sequence[tuple[str, int, bool]]) -> bool:
        """Mark the consumer and its live workers (name, pid, alive) as alive now.

        False when the journal does not know the consumer (a Redis emptied by a restart
        without persistence, a journal file moved aside): the caller registers again."""

    @abc.abstractmethod
    def consumer_stopped(self, consumer_id: str) -> None:
        """Record a consumer that stopped on purpose; its workers are stopped too."""

    @abc.abstractmethod
    def prune(self, keep_events: int | None = None, max_age_s: float | None = None) -> int:
        """Drop the oldest events beyond ``keep_events`` or older than ``max_age_s``."""

    # -- events ----------------------------------------------------------------------
    @abc.abstractmethod
    def tail(self, after: Cursor = 0, limit: int = 1000) -> list[Event]:
        """Up to ``limit`` events after ``after``, oldest first (paying for those only)."""

    @abc.abstractmethod
    def last_id(self) -> Cursor:
        """The cursor of the newest event (``START`` when there is none)."""

    @abc.abstractmethod
    def events_for(self, task_id: str) -> list[Event]:
        """One task's events, oldest first."""

    # -- tasks -----------------------------------------------------------------------
    @abc.abstractmethod
    def task(self, task_id: str) -> dict[str, Any] | None:
        """The summary of one task (``args`` and ``kwargs`` decoded), or None."""

    @abc.abstractmethod
    def tasks_by_ids(self, task_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Summary rows of the given tasks (those the journal knows), in no set order."""

    @abc.abstractmethod
    def find_tasks(self, prefix: str, limit: int = 5) -> list[str]:
        """Ids of tasks that start with ``prefix`` (for short ids typed by hand)."""

    @abc.abstractmethod
    def running_tasks(self) -> list[dict[str, Any]]:
        """Tasks whose last state is executing, with their consumer's beat and stop."""

    @abc.abstractmethod
    def typical_duration(self, task_name: str | None = None, sample: int = 50) -> float | None:
        """The median duration of the latest completed runs (of one task, or of all)."""

    @abc.abstractmethod
    def enqueue_times(self, task_ids: Sequence[str]) -> dict[str, float]:
        """When each of these tasks was enqueued, for those the journal knows."""

    @abc.abstractmethod
    def state_counts(self) -> dict[str, int]:
        """Tasks per state (without scanning the tasks)."""

    @abc.abstractmethod
    def tasks_in_state(
        self, state: str, after: Any = None, limit: int = 200
    ) -> tuple[list[dict[str, Any]], Any]:
        """Up to ``limit`` tasks (``task_id``, ``task_name``, ``state_ts``) now in a
        waiting state (pending, scheduled, retrying, revoked), in a stable order from
        position ``after`` (None: the start); and the position to go on from, None at
        the end.  For walking round a large history a batch at a time."""

    # -- selections for bulk actions -------------------------------------------------
    @abc.abstractmethod
    def task_mark(self) -> Any:
        """The creation position of the newest task now: a selection fixed at it
        (``task_page``'s ``upto``) leaves out tasks made later, such as its own retries."""

    @abc.abstractmethod
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
        """Summary rows (as ``tasks_by_ids`` gives them) of tasks now in one of
        ``states`` (all ended, or all waiting), of task ``task_name``, that reached that
        state between ``since`` and ``until`` and were made at or before ``upto``, in a
        stable order from position ``after`` (None: the start); and the position to go
        on from, None at the end.  A page may hold fewer rows than ``limit`` before the
        end (what it read did not match)."""

    @abc.abstractmethod
    def retries_of(self, task_ids: Sequence[str]) -> dict[str, str]:
        """For each of these tasks that a later task was journalled as a retry of
        (``retry_of``): that task's id (the latest one)."""

    def runs_between(self, t0: float, t1: float, limit: int = 10_000) -> Any:
        """The runs overlapping [t0, t1], newest first (a ``timeline.RunPage``).

        A shared journal (Redis) is not a query engine: the window reads its local
        copy (``mirror``), a ``SqliteJournal``, instead."""
        raise NotImplementedError(f"{type(self).__name__} is read through a local copy")

    # -- consumers and workers -------------------------------------------------------
    @abc.abstractmethod
    def consumers(self) -> list[dict[str, Any]]:
        """Every consumer known, oldest first, with its heartbeat and stop time."""

    @abc.abstractmethod
    def workers(self) -> list[dict[str, Any]]:
        """Every worker known, with its consumer's host, beat and stop time."""

    def live_consumers(self) -> set[str]:
        """Ids of consumers that have not stopped and beat within ``STALE_AFTER_S``."""
        now = time.time()
        return {
            c["consumer_id"]
            for c in self.consumers()
            if not c["stopped_at"] and now - (c["last_beat"] or 0) <= STALE_AFTER_S
        }

    def heartbeat_expired(self, consumer_id: str) -> bool | None:
        """Whether the consumer's heartbeat has expired, as the journal's own clock says
        (True: gone, False: alive), or None when this journal cannot tell (SQLite: the
        caller judges from ``last_beat``)."""
        return None

    @abc.abstractmethod
    def epoch(self) -> str:
        """A random id given to this journal when it was made (on first use): another one
        means the journal was emptied and begun again (Redis flushed, or restarted
        without persistence; a journal file replaced), so a copy of it must start over."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release what this process holds open (connections); the journal stays."""


class SqliteJournal(Journal):
    """The journal in a SQLite file (WAL), one connection per thread and process."""

    def __init__(self, path: str | os.PathLike[str], cache_mb: int = 64) -> None:
        """Nothing is opened here: the file is created and its tables made on first use,
        in the thread that uses it (the window makes one on its GUI thread).

        ``cache_mb``: SQLite's page cache per connection; the writer wants the task index
        in memory, a reader that scans does not need to keep what it scanned.
        """
        self.path = Path(path)
        self.cache_mb = cache_mb
        self._local = threading.local()
        self._ready_pid: int | None = None

    @property
    def location(self) -> str:
        return str(self.path)

    # -- connections -------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection, for the SQLite-side readers of the history
        (``history``, ``search_index``); nothing else opens the journal's file."""
        return self._conn()

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or getattr(local, "pid", None) != os.getpid():
            if self._ready_pid != os.getpid():
                self._create()
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute("PRAGMA journal_mode=WAL")
                # NORMAL: no sync per commit, still consistent after a power loss in WAL
                # mode.  Fewer, larger checkpoints and a cache that holds the task index
                # cut the writer's cost per event by 40 % (measured: 65 -> 39 us).
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA wal_autocheckpoint=10000")
                conn.execute(f"PRAGMA cache_size=-{int(self.cache_mb) * 1024}")
            except sqlite3.DatabaseError as exc:
                raise UserError(
                    f"The journal {self.path} cannot be opened ({exc}); move it aside and "
                    "a new one will be made."
                ) from None
            local.conn, local.pid = conn, os.getpid()
            if self._ready_pid != os.getpid():
                conn.executescript(_SCHEMA)  # idempotent; executescript commits itself
                self._add_counts(conn)
                self._ready_pid = os.getpid()
        return conn

    @staticmethod
    def _add_counts(conn: sqlite3.Connection) -> None:
        """Make the per-state counts and their triggers once (journals from before them
        are counted here); a lock makes two processes doing it at once harmless."""
        made = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'task_counts_delete'"
        if conn.execute(made).fetchone():
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not conn.execute(made).fetchone():
                for statement in _COUNTS_SCHEMA:
                    conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _create(self) -> None:
        try:
            ensure_private_file(self.path)
        except PermissionError:
            raise UserError(
                f"Cannot create the journal {self.path}: the folder is not writable; "
                "choose another place with HUEY_DESK_JOURNAL."
            ) from None

    class _Txn:
        def __init__(self, journal: SqliteJournal) -> None:
            self.conn = journal._conn()
            self.path = journal.path

        def __enter__(self) -> sqlite3.Connection:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if is_busy(exc):
                    raise QueueBusyError(
                        f"The journal {self.path} is locked by another process; try again."
                    ) from None
                raise
            return self.conn

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            if exc_type is None:
                try:
                    self.conn.execute("COMMIT")
                    return
                except sqlite3.Error:
                    self._rollback()
                    raise
            self._rollback()

        def _rollback(self) -> None:
            """Leave no transaction open: the next BEGIN on this connection must work."""
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _write(self) -> SqliteJournal._Txn:
        return SqliteJournal._Txn(self)

    # -- writing -----------------------------------------------------------------------
    def append(self, events: Iterable[NewEvent]) -> None:
        """Write a batch in one transaction: the events, one upsert per task, per worker.

        A worker's busy or idle state follows from the events it fired, so the hooks
        send nothing else: the last such event of each worker in the batch decides.
        """
        items = list(events)
        if not items:
            return
        with self._write() as conn:
            run: list[NewEvent] = []
            workers: dict[tuple[str, str], tuple[Any, ...]] = {}
            for ev in items:
                if ev.kind == FLUSHED:
                    self._write_events(conn, run)
                    run = []
                    self._apply_flush(conn, ev)
                    continue
                run.append(ev)
                if ev.consumer is not None and ev.worker is not None:
                    if ev.kind == EXECUTING:
                        workers[(ev.consumer, ev.worker)] = (
                            ev.consumer,
                            ev.worker,
                            ev.pid,
                            "busy",
                            ev.task_id,
                            ev.task_name,
                            ev.ts,
                            ev.ts,
                        )
                    elif ev.kind in WORKER_FREED:
                        workers[(ev.consumer, ev.worker)] = (
                            ev.consumer,
                            ev.worker,
                            ev.pid,
                            "idle",
                            None,
                            None,
                            ev.ts,
                            ev.ts,
                        )
            self._write_events(conn, run)
            if workers:
                conn.executemany(_WORKER_UPSERT, list(workers.values()))

    def _write_events(self, conn: sqlite3.Connection, events: list[NewEvent]) -> None:
        if not events:
            return
        conn.executemany(_EVENT_INSERT, [_event_row(ev) for ev in events])
        # The ids just given are consecutive (AUTOINCREMENT, one writer at a time).
        last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        deltas: dict[str, dict[str, Any]] = {}
        for event_id, ev in enumerate(events, start=last - len(events) + 1):
            if ev.task_id is not None:
                delta = deltas.get(ev.task_id)
                if delta is None:
                    delta = deltas[ev.task_id] = {"attempts": 0, "first_event": event_id}
                delta["last_event"] = event_id
                fold_event(delta, ev)
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for task_id, delta in deltas.items():
            columns = tuple(sorted(delta))
            by_columns.setdefault(columns, []).append((task_id, *(delta[c] for c in columns)))
        for columns, rows in by_columns.items():
            conn.executemany(_task_upsert(columns), rows)

    def _apply_flush(self, conn: sqlite3.Connection, ev: NewEvent) -> None:
        conn.execute(
            "INSERT INTO events (ts, kind, task_id, task_name, pid, worker, data) "
            "VALUES (?, ?, NULL, NULL, ?, ?, ?)",
            (ev.ts, ev.kind, ev.pid, ev.worker, json.dumps(ev.data) if ev.data else None),
        )
        conn.execute(
            "UPDATE tasks SET state = ?, state_ts = ?, finished_at = ? "
            "WHERE state IN (?, ?, ?, ?) AND state_ts <= ?",
            (FLUSHED, ev.ts, ev.ts, ENQUEUED, SCHEDULED, RETRYING, REVOKED, ev.ts),
        )

    # -- mirroring a shared journal ------------------------------------------------------
    def mirror(
        self,
        source: str,
        events: Sequence[Event],
        rows: Sequence[dict[str, Any]],
        cursor: Cursor,
    ) -> None:
        """Copy a batch of another journal's events and its tasks' summaries, verbatim.

        Used by ``mirror.JournalMirror`` to keep a local copy of a shared journal (Redis)
        that the window's history can query.  The summaries are the source's own (not
        re-folded here: a stored event does not carry everything its fold needs), the
        events get local ids, and ``cursor`` (the source's, after this batch) is stored
        in the same transaction, so a crash never skips or repeats a batch.
        """
        with self._write() as conn:
            self._mirror_table(conn)
            local_ids: dict[str, list[int]] = {}
            for ev in events:
                if ev.kind == FLUSHED:
                    self._apply_flush(conn, NewEvent(ev.kind, ts=ev.ts, data=ev.data))
                    continue
                cur = conn.execute(_EVENT_INSERT, _event_row(ev))
                if ev.task_id is not None:
                    local_ids.setdefault(ev.task_id, []).append(cur.lastrowid)
            copied = []
            for row in rows:
                ids = local_ids.get(row["task_id"])
                if not ids:
                    continue
                values = [row.get(c) for c in _MIRRORED_COLUMNS]
                copied.append((row["task_id"], *values, ids[0], ids[-1]))
            if copied:
                conn.executemany(_MIRROR_UPSERT, copied)
            conn.execute(
                "INSERT INTO mirror_source (source, cursor) VALUES (?, ?) "
                "ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor",
                (source, json.dumps(cursor)),
            )

    def mirrored_cursor(self, source: str) -> Cursor | None:
        """The cursor of ``source`` this copy holds everything up to (None: nothing)."""
        row = self._mirror_source(source)
        return json.loads(row[0]) if row and row[0] is not None else None

    def mirrored_epoch(self, source: str) -> str | None:
        """The ``epoch()`` of ``source`` this copy was made from (None: not recorded)."""
        row = self._mirror_source(source)
        return row[1] if row else None

    def restart_mirror(self, source: str, epoch: str) -> None:
        """Empty this copy, which is to start again from ``source`` at ``epoch`` (the
        source was emptied).  Event ids go on from where they were, so a reader's cursor
        stays valid; task rowids start again, so a search index must be rebuilt."""
        with self._write() as conn:
            self._mirror_table(conn)
            for table in ("events", "tasks", "consumers", "workers", "mirror_source"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("DELETE FROM task_counts")
            conn.execute(
                "INSERT INTO mirror_source (source, cursor, epoch) VALUES (?, NULL, ?)",
                (source, epoch),
            )

    def _mirror_source(self, source: str) -> tuple[Any, ...] | None:
        conn = self._conn()
        self._mirror_table(conn)
        return conn.execute(
            "SELECT cursor, epoch FROM mirror_source WHERE source = ?", (source,)
        ).fetchone()

    @staticmethod
    def _mirror_table(conn: sqlite3.Connection) -> None:
        """The copy's bookkeeping table (a copy made before epochs gets the column: its
        epoch is unknown, so it starts again once)."""
        conn.execute(_MIRROR_SCHEMA)
        columns = {r[1] for r in conn.execute("PRAGMA table_info(mirror_source)")}
        if "epoch" not in columns:
            conn.execute("ALTER TABLE mirror_source ADD COLUMN epoch TEXT")

    def epoch(self) -> str:
        conn = self._conn()
        conn.execute(_EPOCH_SCHEMA)
        row = conn.execute("SELECT epoch FROM journal_epoch").fetchone()
        if row is None:
            with self._write() as conn:
                row = conn.execute("SELECT epoch FROM journal_epoch").fetchone()
                if row is None:
                    row = (uuid.uuid4().hex,)
                    conn.execute("INSERT INTO journal_epoch (epoch) VALUES (?)", row)
        return row[0]

    def register_consumer(self, consumer_id: str, **info: Any) -> None:
        now = time.time()
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO consumers (consumer_id, host, pid, target, worker_type, "
                "workers, started_at, last_beat, stopped_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                "NULL)",
                (
                    consumer_id,
                    info.get("host"),
                    info.get("pid"),
                    info.get("target"),
                    info.get("worker_type"),
                    info.get("workers"),
                    now,
                    now,
                ),
            )

    def beat(self, consumer_id: str, workers: Sequence[tuple[str, int, bool]]) -> bool:
        """Mark the consumer and its live workers as alive now."""
        now = time.time()
        with self._write() as conn:
            known = conn.execute(
                "UPDATE consumers SET last_beat = ? WHERE consumer_id = ?", (now, consumer_id)
            ).rowcount
            for name, pid, alive in workers:
                conn.execute(
                    "INSERT INTO workers (consumer_id, name, pid, state, since, last_beat) "
                    "VALUES (?, ?, ?, 'idle', ?, ?) ON CONFLICT (consumer_id, name) DO UPDATE "
                    "SET last_beat = CASE WHEN ? THEN excluded.last_beat ELSE last_beat END, "
                    "pid = CASE WHEN workers.state = 'busy' THEN workers.pid "
                    "ELSE excluded.pid END",
                    (consumer_id, name, pid, now, now if alive else None, int(alive)),
                )
        return bool(known)

    def consumer_stopped(self, consumer_id: str) -> None:
        now = time.time()
        with self._write() as conn:
            conn.execute(
                "UPDATE consumers SET stopped_at = ?, last_beat = ? WHERE consumer_id = ?",
                (now, now, consumer_id),
            )
            conn.execute(
                "UPDATE workers SET state = 'stopped', task_id = NULL, "
                "task_name = NULL, since = ? WHERE consumer_id = ?",
                (now, consumer_id),
            )

    # -- reading -----------------------------------------------------------------------
    def tail(self, after: int = 0, limit: int = 1000) -> list[Event]:
        rows = (
            self._conn()
            .execute(
                "SELECT id, ts, kind, task_id, task_name, pid, worker, data FROM events "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            )
            .fetchall()
        )
        return [Event(r) for r in rows]

    def last_id(self) -> int:
        row = self._conn().execute("SELECT max(id) FROM events").fetchone()
        return row[0] or 0

    def events_for(self, task_id: str) -> list[Event]:
        """A task's events, found between its first and last event ids.

        The ids come from the task's summary row, so no index on ``events.task_id`` is
        needed: that index cost a third of the writer's time per event.
        """
        conn = self._conn()
        span = conn.execute(
            "SELECT first_event, last_event FROM tasks WHERE task_id = ?", (task_id,)
        ).fetchone()
        if span is None or span[0] is None:
            return []
        rows = conn.execute(
            "SELECT id, ts, kind, task_id, task_name, pid, worker, data FROM events "
            "WHERE id BETWEEN ? AND ? AND task_id = ? ORDER BY id",
            (span[0], span[1], task_id),
        ).fetchall()
        return [Event(r) for r in rows]

    def task(self, task_id: str) -> dict[str, Any] | None:
        cur = self._conn().execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,))
        row = cur.fetchone()
        if row is None:
            return None
        record = dict(zip([d[0] for d in cur.description], row))
        for column in ("args", "kwargs"):
            if record[column] is not None:
                record[column] = json.loads(record[column])
        return record

    def tasks_by_ids(self, task_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Summary rows of the given tasks (those the journal knows), in no set order."""
        out: list[dict[str, Any]] = []
        conn = self._conn()
        ids = list(task_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cur = conn.execute(
                f"SELECT rowid AS seq, * FROM tasks WHERE task_id IN "
                f"({','.join('?' * len(chunk))})",
                chunk,
            )
            names = [d[0] for d in cur.description]
            out.extend(dict(zip(names, row)) for row in cur.fetchall())
        return out

    def enqueue_times(self, task_ids: Sequence[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        conn = self._conn()
        ids = [i for i in task_ids if i]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = conn.execute(
                f"SELECT task_id, enqueued_at FROM tasks WHERE enqueued_at IS NOT NULL "
                f"AND task_id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            out.update(rows)
        return out

    def typical_duration(self, task_name: str | None = None, sample: int = 50) -> float | None:
        if task_name is None:
            rows = (
                self._conn()
                .execute(
                    "SELECT duration FROM tasks WHERE state = 'complete' AND duration IS NOT NULL "
                    "ORDER BY rowid DESC LIMIT ?",
                    (sample,),
                )
                .fetchall()
            )
        else:
            rows = (
                self._conn()
                .execute(
                    "SELECT duration FROM tasks WHERE task_name = ? AND state = 'complete' "
                    "AND duration IS NOT NULL ORDER BY rowid DESC LIMIT ?",
                    (task_name, sample),
                )
                .fetchall()
            )
        values = sorted(r[0] for r in rows)
        return values[len(values) // 2] if values else None

    def find_tasks(self, prefix: str, limit: int = 5) -> list[str]:
        """Task ids that start with ``prefix`` (for short ids typed by hand)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = (
            self._conn()
            .execute(
                "SELECT task_id FROM tasks WHERE task_id LIKE ? ESCAPE '\\' LIMIT ?",
                (escaped + "%", limit),
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def tasks_in_state(
        self, state: str, after: Any = None, limit: int = 200
    ) -> tuple[list[dict[str, Any]], Any]:
        rows = (
            self._conn()
            .execute(
                "SELECT rowid, task_id, task_name, state_ts FROM tasks "
                "WHERE state = ? AND rowid > ? ORDER BY rowid LIMIT ?",
                (state, after or 0, limit),
            )
            .fetchall()
        )
        found = [{"task_id": r[1], "task_name": r[2], "state_ts": r[3]} for r in rows]
        return found, (rows[-1][0] if len(rows) == limit else None)

    def task_mark(self) -> int:
        return self._conn().execute("SELECT coalesce(max(rowid), 0) FROM tasks").fetchone()[0]

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
        """By creation order (rowid) from ``after``: a range of the primary key, each
        page picking up where the last stopped, however long the history."""
        states = list(states)
        clauses = [f"state IN ({','.join('?' * len(states))})", "rowid > ?"]
        args: list[Any] = [*states, after or 0]
        for clause, value in (
            ("rowid <= ?", upto),
            ("task_name = ?", task_name),
            ("state_ts >= ?", since),
            ("state_ts <= ?", until),
        ):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        cur = self._conn().execute(
            f"SELECT rowid AS seq, * FROM tasks WHERE {' AND '.join(clauses)} "
            "ORDER BY rowid LIMIT ?",
            (*args, limit),
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        return rows, (rows[-1]["seq"] if len(rows) == limit else None)

    def retries_of(self, task_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        conn = self._conn()
        ids = [i for i in task_ids if i]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = conn.execute(
                f"SELECT retry_of, task_id FROM tasks WHERE retry_of IN "
                f"({','.join('?' * len(chunk))}) ORDER BY rowid",
                chunk,
            ).fetchall()
            out.update(rows)
        return out

    def state_counts(self) -> dict[str, int]:
        """Tasks per state, read from the counts the triggers keep (no scan)."""
        rows = self._conn().execute("SELECT state, n FROM task_counts WHERE n > 0").fetchall()
        return dict(rows)

    def runs_between(self, t0: float, t1: float, limit: int = 10_000) -> Any:
        from desktop_app.core.timeline import read_timeline

        return read_timeline(self, self, t0, t1, limit)

    def consumers(self) -> list[dict[str, Any]]:
        cur = self._conn().execute("SELECT * FROM consumers ORDER BY started_at")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def workers(self) -> list[dict[str, Any]]:
        cur = self._conn().execute(
            "SELECT w.*, c.host, c.stopped_at AS consumer_stopped_at, "
            "c.last_beat AS consumer_beat FROM workers w "
            "JOIN consumers c USING (consumer_id) ORDER BY c.started_at, w.name"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def running_tasks(self) -> list[dict[str, Any]]:
        """Tasks whose last state is executing, with the consumer that runs them."""
        cur = self._conn().execute(
            "SELECT t.task_id, t.task_name, t.worker, t.pid, t.consumer, t.started_at, "
            "c.last_beat, c.stopped_at FROM tasks t LEFT JOIN consumers c "
            "ON c.consumer_id = t.consumer WHERE t.state = ?",
            (EXECUTING,),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    # -- upkeep ------------------------------------------------------------------------
    def prune(self, keep_events: int | None = None, max_age_s: float | None = None) -> int:
        """Drop the oldest events beyond ``keep_events`` or older than ``max_age_s``."""
        removed = 0
        with self._write() as conn:
            if keep_events is not None:
                last = conn.execute("SELECT max(id) FROM events").fetchone()[0] or 0
                cur = conn.execute("DELETE FROM events WHERE id <= ?", (last - keep_events,))
                removed += cur.rowcount
            if max_age_s is not None:
                cutoff = time.time() - max_age_s
                first_kept = _first_id_at(conn, cutoff)
                cur = conn.execute("DELETE FROM events WHERE id < ?", (first_kept,))
                removed += cur.rowcount
                placeholders = ",".join("?" * len(FINAL_STATES))
                conn.execute(
                    f"DELETE FROM tasks WHERE state IN ({placeholders}) AND state_ts < ?",
                    (*FINAL_STATES, cutoff),
                )
                conn.execute(
                    "DELETE FROM consumers WHERE last_beat < ? AND "
                    "consumer_id NOT IN (SELECT consumer FROM tasks "
                    "WHERE consumer IS NOT NULL)",
                    (cutoff,),
                )
                conn.execute(
                    "DELETE FROM workers WHERE consumer_id NOT IN "
                    "(SELECT consumer_id FROM consumers)"
                )
        return removed

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local = threading.local()
