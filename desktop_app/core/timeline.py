"""The worker timeline's data: the runs that overlap a time range, read by time.

A run is one attempt of a task on one worker, from its start to its end (or still
running).  The latest attempt of each task is its summary row, found through the
``tasks_started`` index on (started_at, finished_at), so a range costs what it holds,
not the whole history; earlier attempts of a retried task (Huey retries keep the task
id) are read from that task's own events, which its summary bounds.  Both the SQLite
journal and the window's local copy of a Redis journal (``mirror``) are SQLite files,
read here through ``SqliteJournal.connection()``; which host a consumer is on, and which
workers exist, come from the journal the consumers write (the shared one on Redis: the
copy holds only events and summaries).
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NamedTuple

from desktop_app.core.journal import Journal, SqliteJournal
from desktop_app.core.states import (
    CANCELED,
    COMPLETE,
    ERROR,
    EXECUTING,
    INTERRUPTED,
    LOCKED,
    RATE_LIMITED,
    TIMEOUT,
)

LIMIT = 10_000  # runs per read, newest first: more than a screen can tell apart
# How far before the range a finished run may have started and still reach into it
# (index entries only: about 6 ms for ten minutes at 100 tasks a second).
LOOKBACK_S = 600.0
# Retried tasks whose earlier attempts are read per range (one bounded read each).
RETRIED_MAX = 500
# Events that end an attempt; a retrying that follows an error marks it retried.
_ENDS = (COMPLETE, ERROR, INTERRUPTED, TIMEOUT, CANCELED, LOCKED, RATE_LIMITED)

# A summary row as a run, in ``Run``'s field order, built in SQLite (a read makes 20,000
# of them on the thread pool: Python work there holds the GIL the GUI thread paints with).
# A run still without an end that is not executing ended when its state last changed.
_RUN_COLUMNS = (
    "task_id, task_name, worker, consumer, "
    "coalesce(h.host, substr(consumer, 1, instr(consumer || ':', ':') - 1)), started_at, "
    f"CASE WHEN finished_at IS NULL AND state != '{EXECUTING}' "
    "THEN max(started_at, coalesce(state_ts, started_at)) ELSE finished_at END, state, "
    "max(1, coalesce(attempts, 1)), max(1, coalesce(attempts, 1)), args_preview, retry_of"
)
_HOSTS = "temp.timeline_hosts"
_IN_RANGE = (
    f"SELECT {_RUN_COLUMNS} FROM tasks INDEXED BY tasks_started "
    f"LEFT JOIN {_HOSTS} h ON h.consumer_id = tasks.consumer "
    "WHERE started_at BETWEEN ? AND ? AND (finished_at >= ? OR finished_at IS NULL) "
    "ORDER BY started_at DESC LIMIT ?"
)
_RUNNING_BEFORE = (
    f"SELECT {_RUN_COLUMNS} FROM tasks LEFT JOIN {_HOSTS} h ON h.consumer_id = tasks.consumer "
    f"WHERE state = '{EXECUTING}' AND started_at < ? LIMIT ?"
)


class Run(NamedTuple):
    """One attempt of a task on a worker; ``end`` None while it runs."""

    task_id: str
    task_name: str | None
    worker: str | None
    consumer: str | None
    host: str | None
    start: float
    end: float | None
    state: str
    attempt: int = 1  # 1 for the first run of a task id, 2 for its first retry...
    attempts: int = 1  # how many runs the task has had
    args_preview: str | None = None
    retry_of: str | None = None  # the task a manual retry (a new task id) repeats

    @property
    def lane(self) -> tuple[str, str, str]:
        """Where it is drawn: host, consumer, worker."""
        return (self.host or "?", self.consumer or "?", self.worker or "?")

    @property
    def interrupted(self) -> bool:
        return self.state == INTERRUPTED

    @property
    def retried(self) -> bool:
        """A later run of the same task id followed this one."""
        return self.attempt < self.attempts

    def duration(self, now: float) -> float:
        return (self.end if self.end is not None else now) - self.start


@dataclass
class RunPage:
    """What one read returned: runs overlapping [t0, t1], newest first."""

    t0: float
    t1: float
    runs: list[Run] = field(default_factory=list)
    truncated: bool = False  # the limit was reached: older runs of the range are left out
    lanes: list[tuple[str, str, str]] = field(default_factory=list)  # known workers too


def read_timeline(
    history: SqliteJournal,
    live: Journal,
    t0: float,
    t1: float,
    limit: int = LIMIT,
) -> RunPage:
    """The runs overlapping [t0, t1] from ``history`` (the journal, or a shared one's
    local copy), their hosts and every known worker's lane from ``live``."""
    consumers = live.consumers() if live is not history else None
    workers = live.workers() if live is not history else None
    return runs_between(history.connection(), t0, t1, limit, consumers=consumers, workers=workers)


def host_of(consumer_id: str | None, hosts: dict[str, str]) -> str | None:
    """A consumer's host: as it registered, else the first part of its id (host:pid:ms)."""
    if not consumer_id:
        return None
    return hosts.get(consumer_id) or consumer_id.split(":", 1)[0]


def runs_between(
    conn: sqlite3.Connection,
    t0: float,
    t1: float,
    limit: int = LIMIT,
    lookback: float = LOOKBACK_S,
    consumers: list[dict[str, Any]] | None = None,
    workers: list[dict[str, Any]] | None = None,
) -> RunPage:
    """The runs overlapping [t0, t1], newest first, at most ``limit`` (plus the earlier
    attempts of retried tasks among them), with the lanes of every known worker
    (``consumers`` and ``workers`` as ``Journal`` gives them; None: read from ``conn``)."""
    if consumers is None:
        hosts = dict(conn.execute("SELECT consumer_id, host FROM consumers").fetchall())
    else:
        hosts = {c["consumer_id"]: c.get("host") for c in consumers}
    if workers is None:
        pairs = conn.execute("SELECT consumer_id, name FROM workers").fetchall()
    else:
        pairs = [(w["consumer_id"], w["name"]) for w in workers]
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_HOSTS[5:]} (consumer_id PRIMARY KEY, host)")
    conn.execute(f"DELETE FROM {_HOSTS}")
    conn.executemany(f"INSERT INTO {_HOSTS} VALUES (?, ?)", [kv for kv in hosts.items() if kv[1]])
    runs = list(map(Run._make, conn.execute(_IN_RANGE, (t0 - lookback, t1, t0, limit))))
    truncated = len(runs) == limit
    seen = {r[0] for r in runs}
    runs += [
        r
        for r in map(Run._make, conn.execute(_RUNNING_BEFORE, (t0 - lookback, limit)))
        if r.task_id not in seen
    ]
    retried = [run for run in runs if run.attempts > 1][:RETRIED_MAX]
    for run in retried:
        runs += [
            r
            for r in _earlier_runs(conn, run)
            if r.start <= t1 and (r.end is None or r.end >= t0 - lookback)
        ]
    if retried:
        runs.sort(key=attrgetter("start"), reverse=True)
    lanes = sorted(
        {(r.host or "?", r.consumer or "?", r.worker or "?") for r in runs}
        | {(host_of(c, hosts) or "?", c, w) for c, w in pairs}
    )
    return RunPage(t0, t1, runs, truncated, lanes)


def _earlier_runs(conn: sqlite3.Connection, latest: Run) -> list[Run]:
    """The attempts before ``latest``, from the task's events (between its first and last
    event ids, so no index on ``events.task_id`` is needed)."""
    span = conn.execute(
        "SELECT first_event, last_event FROM tasks WHERE task_id = ?", (latest.task_id,)
    ).fetchone()
    if span is None or span[0] is None:
        return []
    events = conn.execute(
        "SELECT ts, kind, worker FROM events WHERE id BETWEEN ? AND ? AND task_id = ? ORDER BY id",
        (span[0], span[1], latest.task_id),
    ).fetchall()
    starts = [(ts, worker) for ts, kind, worker in events if kind == EXECUTING]
    out: list[Run] = []
    # every start but the last is an earlier attempt; it ends at the next end event
    for number, (start, worker) in enumerate(starts[:-1], start=1):
        end, state = None, INTERRUPTED
        for ts, kind, _worker in events:
            if ts >= start and kind in _ENDS:
                end, state = ts, kind
                break
        if end is None:
            end = starts[number][0]
        out.append(
            Run(
                latest.task_id,
                latest.task_name,
                worker,
                latest.consumer,
                latest.host,
                start,
                end,
                state,
                attempt=number,
                attempts=latest.attempts,
                args_preview=latest.args_preview,
            )
        )
    return out


def retry_links(runs: list[Run]) -> list[tuple[Run, Run]]:
    """Pairs (earlier run, the run that retried it): the same task id's consecutive
    attempts, and a manual retry's first run after the task it repeats."""
    wanted = {r.task_id for r in runs if r.attempts > 1} | {r.retry_of for r in runs if r.retry_of}
    by_task: dict[str, list[Run]] = {}
    for run in runs:
        if run.task_id in wanted:
            by_task.setdefault(run.task_id, []).append(run)
    links = []
    for attempts in by_task.values():
        attempts.sort(key=lambda r: r.start)
        links += list(itertools.pairwise(attempts))
    for run in runs:
        earlier = by_task.get(run.retry_of) if run.retry_of else None
        if earlier and run.attempt == 1:
            links.append((earlier[-1], run))
    return links


class TimelineReader:
    """Reads the timeline's runs from any thread (the window's thread pool), one read at
    a time, leaving no connection open in the thread that read."""

    def __init__(self, history_path: str, live: Journal | None = None) -> None:
        """``history_path``: the SQLite journal or a shared journal's local copy;
        ``live``: the journal consumers write (None: that file)."""
        self.history = SqliteJournal(history_path, cache_mb=8)
        self.live = live
        self._lock = threading.Lock()

    def read(self, t0: float, t1: float, limit: int = LIMIT) -> RunPage:
        with self._lock:
            try:
                return read_timeline(self.history, self.live or self.history, t0, t1, limit)
            finally:
                self.history.close()
