"""The timeline's runs by time range, on a SQLite journal and on a Redis journal's copy."""

from __future__ import annotations

import sqlite3
import time

import pytest

from desktop_app.core.journal import (
    COMPLETE,
    ENQUEUED,
    ERROR,
    EXECUTING,
    INTERRUPTED,
    RETRYING,
    NewEvent,
    SqliteJournal,
)
from desktop_app.core.mirror import JournalMirror
from desktop_app.core.timeline import read_timeline, retry_links, runs_between
from tests import redis_server as _redis

redis_server = _redis.redis_server
redis_url = _redis.redis_url
T = 1_700_000_000.0
WHERE = {"pid": 7, "worker": "Worker-1", "consumer": "host-a:7:1"}


def run(task_id, start, end=None, kind=COMPLETE, worker="Worker-1", **extra):
    where = WHERE | {"worker": worker}
    events = [
        NewEvent(ENQUEUED, task_id, "app.job", start - 1, data={"args_preview": "1, 2"}),
        NewEvent(EXECUTING, task_id, "app.job", start, **where),
    ]
    if end is not None:
        events.append(
            NewEvent(kind, task_id, "app.job", end, data={"duration": end - start}, **where)
        )
    return events


class Store:
    """A journal to write and the SQLite file the timeline reads (the same, or a copy)."""

    def __init__(self, source, history):
        self.source, self.history = source, history
        self.mirror = JournalMirror(source, history) if source is not history else None

    def append(self, events):
        self.source.append(events)
        if self.mirror is not None:
            self.mirror.sync_all()

    def read(self, t0, t1, limit=1000):
        return read_timeline(self.history, self.source, t0, t1, limit)


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    history = SqliteJournal(tmp_path / "journal.sqlite")
    if request.param == "sqlite":
        source = history
    else:
        from desktop_app.core.backends.redis.journal import RedisJournal

        source = RedisJournal(url=request.getfixturevalue("redis_url"), name="timeline")
    source.register_consumer("host-a:7:1", host="host-a", pid=7, workers=2)
    yield Store(source, history)
    if source is not history:
        source.close()
    history.close()


def test_the_runs_that_overlap_the_range_and_only_those(store):
    store.append(
        run("before", T, T + 5)
        + run("inside", T + 20, T + 25)
        + run("left-edge", T + 8, T + 12, kind=ERROR)
        + run("right-edge", T + 28, T + 40, worker="Worker-2")
        + run("after", T + 45, T + 46)
        + run("running", T + 29)
    )
    page = store.read(T + 10, T + 30)
    runs = {r.task_id: r for r in page.runs}
    assert set(runs) == {"inside", "left-edge", "right-edge", "running"}
    assert [r.start for r in page.runs] == sorted((r.start for r in page.runs), reverse=True)
    assert runs["left-edge"].state == ERROR and runs["left-edge"].end == T + 12
    assert runs["running"].end is None and runs["running"].state == EXECUTING
    inside = runs["inside"]
    assert (inside.task_name, inside.worker, inside.host) == ("app.job", "Worker-1", "host-a")
    assert inside.args_preview == "1, 2" and inside.duration(T + 99) == 5
    assert ("host-a", "host-a:7:1", "Worker-2") in page.lanes and not page.truncated


def test_a_limit_keeps_the_newest_and_says_so(store):
    store.append([e for i in range(30) for e in run(f"t{i}", T + i, T + i + 0.5)])
    page = store.read(T, T + 100, limit=10)
    assert page.truncated
    assert [r.task_id for r in page.runs] == [f"t{i}" for i in range(29, 19, -1)]


def test_retries_are_runs_of_the_same_task_and_interruptions_are_marked(store):
    where = WHERE
    store.append(
        [
            NewEvent(ENQUEUED, "r", "app.flaky", T),
            NewEvent(EXECUTING, "r", "app.flaky", T + 1, **where),
            NewEvent(ERROR, "r", "app.flaky", T + 2, data={"error": "boom"}, **where),
            NewEvent(RETRYING, "r", "app.flaky", T + 2.1, **where),
            NewEvent(EXECUTING, "r", "app.flaky", T + 5, **(where | {"worker": "Worker-2"})),
            NewEvent(COMPLETE, "r", "app.flaky", T + 6, data={"duration": 1.0}, **where),
            *run("cut", T + 3, T + 4, kind=INTERRUPTED),
        ]
    )
    page = store.read(T, T + 10)
    attempts = sorted((r for r in page.runs if r.task_id == "r"), key=lambda r: r.start)
    assert [(r.attempt, r.state, r.worker) for r in attempts] == [
        (1, ERROR, "Worker-1"),
        (2, COMPLETE, "Worker-2"),
    ]
    assert attempts[0].retried and not attempts[1].retried
    assert retry_links(page.runs) == [(attempts[0], attempts[1])]
    (cut,) = [r for r in page.runs if r.task_id == "cut"]
    assert cut.interrupted and not attempts[1].interrupted


def test_an_older_journal_gets_the_index_and_keeps_its_tasks(tmp_path):
    path = tmp_path / "journal.sqlite"
    journal = SqliteJournal(path)
    journal.append(run("old", T, T + 1))
    journal.close()
    with sqlite3.connect(path) as conn:  # as a journal made before the timeline
        conn.execute("DROP INDEX tasks_started")
    reopened = SqliteJournal(path)
    try:
        plan = reopened.connection().execute(
            "EXPLAIN QUERY PLAN SELECT task_id FROM tasks WHERE started_at BETWEEN 1 AND 2"
        )
        assert "tasks_started" in str(plan.fetchall())
        assert [r.task_id for r in reopened.runs_between(T, T + 2).runs] == ["old"]
    finally:
        reopened.close()


def test_the_range_read_does_not_scan_the_history(tmp_path):
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    try:
        journal.append([e for i in range(2000) for e in run(f"t{i}", T + i * 10, T + i * 10 + 1)])
        conn = journal.connection()

        def steps(read):
            count = []
            conn.set_progress_handler(lambda: count.append(1), 10)
            try:
                return read(), len(count)
            finally:
                conn.set_progress_handler(None, 10)

        page, ours = steps(lambda: runs_between(conn, T + 10000, T + 10020, lookback=5))
        scan = "SELECT task_id FROM tasks NOT INDEXED WHERE started_at BETWEEN ? AND ?"
        _rows, scanned = steps(lambda: conn.execute(scan, (T + 10000, T + 10020)).fetchall())
        assert [r.task_id for r in page.runs] == ["t1002", "t1001", "t1000"]
        assert ours * 20 < scanned  # SQLite's own count of steps: a range, not a scan
    finally:
        journal.close()


def test_a_shared_journal_is_read_through_its_copy(redis_url):
    from desktop_app.core.backends.redis.journal import RedisJournal

    journal = RedisJournal(url=redis_url, name="nocopy")
    try:
        with pytest.raises(NotImplementedError):
            journal.runs_between(time.time() - 60, time.time())
    finally:
        journal.close()
