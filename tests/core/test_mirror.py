"""A local copy of a shared journal: the same summaries, counts and events, by cursor."""

from __future__ import annotations

import subprocess
import time

import pytest

from desktop_app.core.journal import (
    COMPLETE,
    ENQUEUED,
    ERROR,
    EXECUTING,
    FLUSHED,
    PROGRESS,
    NewEvent,
    SqliteJournal,
)
from desktop_app.core.mirror import JournalMirror, SyncReport
from tests import redis_server as _redis

redis_server = _redis.redis_server
redis_url = _redis.redis_url
LOCAL_ONLY = ("first_event", "last_event")


@pytest.fixture(params=["sqlite", "redis"])
def source(request, tmp_path):
    if request.param == "sqlite":
        journal = SqliteJournal(tmp_path / "shared.sqlite")
    else:
        from desktop_app.core.backends.redis.journal import RedisJournal

        journal = RedisJournal(url=request.getfixturevalue("redis_url"), name="mirrored")
    yield journal
    journal.close()


@pytest.fixture
def local(tmp_path):
    journal = SqliteJournal(tmp_path / "local.sqlite")
    yield journal
    journal.close()


def life(task_id: str, ok: bool, t0: float) -> list[NewEvent]:
    common = {"task_name": "app.job", "pid": 7, "worker": "Worker-1", "consumer": "host:7:1"}
    end = (
        NewEvent(
            COMPLETE, task_id, ts=t0 + 3, data={"duration": 2.0, "result_preview": "5"}, **common
        )
        if ok
        else NewEvent(
            ERROR, task_id, ts=t0 + 3, data={"error": "boom", "traceback": "tb"}, **common
        )
    )
    return [
        NewEvent(
            ENQUEUED,
            task_id,
            "app.job",
            t0,
            data={"args": [1], "kwargs": {}, "args_exact": 1, "args_preview": "1"},
        ),
        NewEvent(EXECUTING, task_id, ts=t0 + 1, **common),
        NewEvent(PROGRESS, task_id, ts=t0 + 2, data={"progress": 0.5}, **common),
        end,
    ]


def summaries(journal, ids):
    rows = {r["task_id"]: r for r in journal.tasks_by_ids(ids)}
    return {
        i: {k: v for k, v in row.items() if k not in (*LOCAL_ONLY, "seq")}
        for i, row in rows.items()
    }


def test_the_copy_has_the_sources_summaries_counts_and_events(source, local):
    t0 = time.time() - 100
    ids = [f"task-{n}" for n in range(30)]
    for n, task_id in enumerate(ids):
        source.append(life(task_id, ok=n % 3 != 0, t0=t0 + n))
    source.append([NewEvent(ENQUEUED, "waiting", "app.job", t0 + 50)])
    mirror = JournalMirror(source, local)
    report = mirror.sync_all(batch=17)
    assert report.caught_up and report.events == 30 * 4 + 1
    assert set(report.task_ids) == {*ids, "waiting"}  # what a search index must look at
    every = [*ids, "waiting"]
    assert summaries(local, every) == summaries(source, every)
    assert (
        local.state_counts()
        == source.state_counts()
        == {"complete": 20, "error": 10, "enqueued": 1}
    )
    assert [e.kind for e in local.events_for("task-4")] == [
        e.kind for e in source.events_for("task-4")
    ]
    # the copy's own cursor order is the source's order
    assert [e.task_id for e in local.tail(0, 1000)] == [
        e.task_id for e in source.tail(source.START, 1000)
    ]


def test_a_new_mirror_resumes_where_the_last_one_stopped(source, local):
    t0 = time.time() - 100
    source.append(life("a", ok=True, t0=t0))
    assert JournalMirror(source, local).sync().events == 4
    source.append(life("b", ok=False, t0=t0 + 10))
    again = JournalMirror(source, local)
    assert again.sync().events == 4  # only the new ones
    assert again.sync().events == 0
    assert len(local.tail(0, 100)) == 8
    assert local.task("b")["state"] == ERROR
    assert local.task("a")["state"] == COMPLETE


def test_a_later_change_replaces_the_copied_summary(source, local):
    t0 = time.time() - 100
    source.append(life("a", ok=False, t0=t0)[:2])
    mirror = JournalMirror(source, local)
    mirror.sync()
    assert local.task("a")["state"] == EXECUTING
    source.append(life("a", ok=False, t0=t0)[2:])
    mirror.sync()
    assert summaries(local, ["a"]) == summaries(source, ["a"])
    assert local.state_counts() == {"error": 1}


def test_a_flush_is_copied(source, local):
    t0 = time.time() - 100
    source.append(
        [NewEvent(ENQUEUED, "w1", "app.job", t0), NewEvent(ENQUEUED, "w2", "app.job", t0)]
    )
    source.append([NewEvent(FLUSHED, ts=t0 + 1, data={"queue": True, "schedule": True})])
    JournalMirror(source, local).sync()
    assert local.state_counts() == source.state_counts() == {"flushed": 2}


def test_every_events_columns_are_copied_as_they_are_across_a_flush(source, local):
    """The copy writes a batch in one statement per run of events between flushes: every
    column comes through with its type, and each task points at its own local events."""
    t0 = time.time() - 100
    source.append([*life("a", True, t0), NewEvent(ENQUEUED, "w", "app.job", t0 + 4)])
    source.append([NewEvent(FLUSHED, ts=t0 + 5, data={"queue": True, "schedule": True})])
    source.append(life("b", False, t0 + 6))
    JournalMirror(source, local).sync()

    def columns(events):
        return [(e.ts, e.kind, e.task_id, e.task_name, e.pid, e.worker, e.data) for e in events]

    copied = local.tail(0, 100)
    assert columns(copied) == columns(source.tail(source.START, 100))
    assert [type(e.ts) for e in copied] == [float] * len(copied)
    assert {type(e.pid) for e in copied} == {int, type(None)}
    for task_id in ("a", "b", "w"):
        mine = [e.id for e in copied if e.task_id == task_id]
        row = local.tasks_by_ids([task_id])[0]
        assert (row["first_event"], row["last_event"]) == (mine[0], mine[-1])
    assert (
        local.state_counts()
        == source.state_counts()
        == {
            "complete": 1,
            "flushed": 1,
            "error": 1,
        }
    )


def test_sync_all_stops_after_max_batches(source, local):
    t0 = time.time() - 100
    for n in range(10):
        source.append(life(f"t{n}", ok=True, t0=t0 + n))
    report = JournalMirror(source, local).sync_all(batch=5, max_batches=2)
    assert not report.caught_up and report.events == 10


def emptied(source, tmp_path):
    """The source emptied and begun again: FLUSHDB on Redis, a new file for SQLite."""
    if isinstance(source, SqliteJournal):
        source.close()
        for path in tmp_path.glob("shared.sqlite*"):
            path.unlink()
        return SqliteJournal(tmp_path / "shared.sqlite")
    source.client.flushdb()
    return source


def test_an_emptied_source_empties_the_copy_which_starts_again(source, local, tmp_path):
    t0 = time.time() - 100
    for n in range(5):
        source.append(life(f"old-{n}", ok=n != 0, t0=t0 + n))
    mirror = JournalMirror(source, local)
    assert mirror.sync_all().events == 20
    assert local.state_counts() == {"complete": 4, "error": 1}
    before = local.last_id()
    again = emptied(source, tmp_path)
    mirror.source = again
    assert again.state_counts() == {}
    report = mirror.sync()
    assert report.reset and report.events == 0 and not report.caught_up
    assert local.state_counts() == {} and local.tasks_by_ids(["old-1"]) == []
    assert local.tail(0, 100) == [] and local.mirrored_cursor(mirror.key) is None
    # what the journal holds from now on is copied as a first copy is
    again.append(life("new-1", ok=True, t0=t0 + 50))
    report = mirror.sync_all()
    assert report.events == 4 and not report.reset
    assert summaries(local, ["new-1"]) == summaries(again, ["new-1"])
    assert local.state_counts() == {"complete": 1}
    assert min(e.id for e in local.tail(0, 100)) > before  # a reader's cursor stays valid
    # the copy knows the new journal now: a window opened later does not start again
    later = JournalMirror(again, local)
    assert later.sync() == SyncReport()
    if again is not source:
        again.close()


def test_a_first_copy_is_not_a_reset(source, local):
    source.append(life("a", ok=True, t0=time.time()))
    report = JournalMirror(source, local).sync()
    assert not report.reset and report.events == 4


def test_a_copy_made_before_epochs_starts_again_once(source, local):
    """A copy whose bookkeeping has no epoch (made by an earlier version) is not trusted."""
    source.append(life("a", ok=True, t0=time.time()))
    JournalMirror(source, local).sync()
    conn = local.connection()
    conn.execute("UPDATE mirror_source SET epoch = NULL")
    mirror = JournalMirror(source, local)
    assert mirror.sync().reset
    assert mirror.sync_all().events == 4 and local.task("a")["state"] == COMPLETE
    assert not JournalMirror(source, local).sync().reset


def test_every_reader_of_one_journal_sees_the_same_epoch(source):
    assert source.epoch() == source.epoch()
    assert len(source.epoch()) == 32


@pytest.fixture
def own_redis(redis_server, tmp_path_factory):
    """A redis-server of this test's own, without persistence, which it may restart."""
    folder = tmp_path_factory.mktemp("own")
    log = folder / "redis.log"
    server = _redis.RedisServer(folder / "s.sock", folder / "redis.pid")
    args = ["redis-server", "--port", "0", "--unixsocket", str(server.socket)]
    args += ["--save", "", "--appendonly", "no", "--dir", str(folder), "--logfile", str(log)]
    args += ["--daemonize", "yes", "--pidfile", str(server.pidfile)]

    def start() -> None:
        subprocess.run(args, stdin=subprocess.DEVNULL, check=True, timeout=10)
        _redis._wait_ready(server, log)

    server.restart = lambda: (_redis._stop(server.pidfile), start())
    start()
    yield server
    _redis._stop(server.pidfile)


def test_a_redis_restarted_without_persistence_empties_the_copy(own_redis, local):
    from desktop_app.core.backends.redis.journal import RedisJournal

    source = RedisJournal(url=own_redis.url, name="restarted")
    try:
        t0 = time.time() - 100
        for n in range(3):
            source.append(life(f"old-{n}", ok=True, t0=t0 + n))
        mirror = JournalMirror(source, local)
        mirror.sync_all()
        assert local.state_counts() == {"complete": 3}
        own_redis.restart()
        source.client.connection_pool.disconnect()  # the old server's connections
        source.append(life("after", ok=False, t0=t0 + 10))
        assert mirror.sync().reset
        assert mirror.sync_all().events == 4
        assert local.state_counts() == source.state_counts() == {"error": 1}
        assert local.tasks_by_ids([f"old-{n}" for n in range(3)]) == []
    finally:
        source.close()
