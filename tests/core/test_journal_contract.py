"""What every journal must do, run against each one: SqliteJournal and RedisJournal."""

from __future__ import annotations

import collections
import os
import time

import pytest

from desktop_app.core.journal import (
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
    NewEvent,
    SqliteJournal,
)
from tests import redis_server as _redis

# The real server's fixtures, for the tests here.
redis_server = _redis.redis_server
redis_url = _redis.redis_url


@pytest.fixture(params=["sqlite", "redis"])
def open_journal(request, tmp_path):
    """Open a journal (again) on one storage: a tmp file, or a fresh Redis database."""
    made = []
    if request.param == "sqlite":
        path = tmp_path / "journal.sqlite"

        def make():
            made.append(SqliteJournal(path))
            return made[-1]
    else:
        url = request.getfixturevalue("redis_url")
        from desktop_app.core.backends.redis.journal import RedisJournal

        def make():
            made.append(RedisJournal(url=url, name="contract"))
            return made[-1]

    yield make
    for journal in made:
        journal.close()


@pytest.fixture
def journal(open_journal):
    return open_journal()


def ev(kind, task_id="t1", ts=None, worker="Worker-1", consumer="c1", **data):
    return NewEvent(
        kind=kind,
        task_id=task_id,
        task_name="app.job",
        ts=ts or time.time(),
        pid=123,
        worker=worker,
        consumer=consumer,
        data=data,
    )


def enqueued(task_id="t1", ts=None, **data):
    return ev(ENQUEUED, task_id, ts, args=[], kwargs={}, args_exact=1, args_preview="", **data)


# -- events by cursor ------------------------------------------------------------------
def test_tail_reads_after_a_cursor(journal):
    assert journal.tail(journal.START) == []
    assert journal.last_id() == journal.START
    journal.append([ev(ENQUEUED, f"t{i}") for i in range(10)])
    first = journal.tail(journal.START, 4)
    assert [e.task_id for e in first] == ["t0", "t1", "t2", "t3"]
    rest = journal.tail(first[-1].cursor, 100)
    assert [e.task_id for e in rest] == [f"t{i}" for i in range(4, 10)]
    assert journal.tail(rest[-1].cursor) == []
    assert journal.last_id() == rest[-1].cursor


def test_a_reader_pays_for_new_events_only(journal):
    journal.append([ev(ENQUEUED, f"old{i}") for i in range(50)])
    cursor = journal.last_id()
    journal.append([ev(EXECUTING, "new1"), ev(COMPLETE, "new1", result_preview="1")])
    new = journal.tail(cursor)
    assert [(e.kind, e.task_id) for e in new] == [(EXECUTING, "new1"), (COMPLETE, "new1")]
    assert journal.tail(new[-1].cursor) == []


def test_events_look_the_same(journal):
    t0 = time.time()
    journal.append([ev(PROGRESS, ts=t0, progress=0.25, progress_message="quarter")])
    (event,) = journal.tail(journal.START)
    assert (event.ts, event.kind, event.task_id, event.task_name) == (
        t0,
        PROGRESS,
        "t1",
        "app.job",
    )
    assert (event.pid, event.worker) == (123, "Worker-1")
    assert event.data == {"progress": 0.25, "progress_message": "quarter"}
    assert event.as_dict() == {
        "id": event.id,
        "ts": t0,
        "kind": PROGRESS,
        "task_id": "t1",
        "task_name": "app.job",
        "pid": 123,
        "worker": "Worker-1",
        "data": event.data,
    }
    assert event.cursor == event.id == journal.last_id()


def test_cursors_are_not_reused_after_pruning(journal):
    journal.append([ev(ENQUEUED, f"t{i}") for i in range(3)])
    seen = {e.cursor for e in journal.tail(journal.START)}
    last = journal.last_id()
    journal.prune(keep_events=0)
    journal.append([ev(ENQUEUED, "later")])
    (later,) = journal.tail(last)
    assert later.task_id == "later" and later.cursor not in seen


# -- task summaries ------------------------------------------------------------------
def test_task_summary_follows_the_life_of_a_task(journal):
    t0 = time.time()
    journal.append([ev(ENQUEUED, ts=t0, args=[1], kwargs={}, args_exact=1, args_preview="1")])
    journal.append(
        [ev(EXECUTING, ts=t0 + 1), ev(PROGRESS, ts=t0 + 2, progress=0.5, progress_message="half")]
    )
    running = journal.task("t1")
    assert running["state"] == EXECUTING and running["started_at"] == t0 + 1
    assert running["progress"] == 0.5 and running["worker"] == "Worker-1"
    assert running["consumer"] == "c1" and running["pid"] == 123
    journal.append([ev(ERROR, ts=t0 + 3, error="boom", traceback="Traceback...", duration=2.0)])
    failed = journal.task("t1")
    assert failed["state"] == ERROR and failed["traceback"] == "Traceback..."
    assert failed["args"] == [1] and failed["kwargs"] == {} and failed["enqueued_at"] == t0
    assert failed["finished_at"] == t0 + 3 and failed["duration"] == 2.0
    journal.append([ev(EXECUTING, ts=t0 + 4), ev(COMPLETE, ts=t0 + 5, result_preview="3")])
    done = journal.task("t1")
    assert done["state"] == COMPLETE and done["error"] is None and done["attempts"] == 2
    assert done["traceback"] is None and done["progress"] is None
    assert done["result_preview"] == "3" and done["state_ts"] == t0 + 5
    assert [e.kind for e in journal.events_for("t1")] == [
        ENQUEUED,
        EXECUTING,
        PROGRESS,
        ERROR,
        EXECUTING,
        COMPLETE,
    ]
    assert journal.events_for("unknown") == [] and journal.task("unknown") is None


@pytest.mark.parametrize("kind", sorted(STATE_OF))
def test_every_kind_folds_into_the_summary(journal, kind):
    t0 = time.time()
    journal.append([enqueued(ts=t0, priority=5, retry_of="t0", eta="2030-01-01T00:00:00")])
    data = {"duration": 1.5, "error": "why", "retries": 2, "result_preview": "r"}
    journal.append([ev(kind, ts=t0 + 1, **data)])
    task = journal.task("t1")
    assert task["state"] == STATE_OF[kind] and task["state_ts"] == t0 + 1
    assert task["enqueued_at"] == t0 and task["priority"] == 5 and task["retry_of"] == "t0"
    assert task["finished_at"] == (t0 + 1 if STATE_OF[kind] in FINAL_STATES else None)
    assert task["attempts"] == (1 if kind == EXECUTING else 0)
    sets = {
        COMPLETE: ("duration", "result_preview"),
        ERROR: ("duration", "error", "retries"),
        RETRYING: ("retries",),
        INTERRUPTED: ("duration", "error"),
        TIMEOUT: ("duration", "error"),
        CANCELED: ("error",),
        LOCKED: ("error",),
        RATE_LIMITED: ("error",),
        EXECUTING: ("retries",),
    }.get(kind, ())
    for column in ("duration", "error", "retries", "result_preview"):
        assert task[column] == (data[column] if column in sets else None), column
    assert [e.kind for e in journal.events_for("t1")] == [ENQUEUED, kind]


def test_progress_changes_no_state(journal):
    t0 = time.time()
    journal.append([enqueued(ts=t0), ev(EXECUTING, ts=t0 + 1)])
    journal.append([ev(PROGRESS, ts=t0 + 5, progress=0.9, progress_message="almost")])
    task = journal.task("t1")
    assert task["state"] == EXECUTING and task["state_ts"] == t0 + 1
    assert (task["progress"], task["progress_message"]) == (0.9, "almost")


def test_restored_task_waits_again(journal):
    t0 = time.time()
    journal.append([enqueued(ts=t0), ev(REVOKED, ts=t0 + 1)])
    assert journal.task("t1")["finished_at"] == t0 + 1
    journal.append([ev(RESTORED, ts=t0 + 2)])
    task = journal.task("t1")
    assert task["state"] == ENQUEUED and task["finished_at"] is None
    assert task["enqueued_at"] == t0


def test_late_enqueued_event_does_not_roll_state_back(journal):
    t0 = time.time()
    journal.append([ev(EXECUTING, ts=t0 + 1)])
    journal.append([enqueued(ts=t0)])
    record = journal.task("t1")
    assert record["state"] == EXECUTING and record["state_ts"] == t0 + 1
    assert record["enqueued_at"] == t0 and record["args"] == []


def test_out_of_order_events_in_one_batch(journal):
    t0 = time.time()
    journal.append([ev(COMPLETE, ts=t0 + 2, duration=1.0), ev(EXECUTING, ts=t0 + 1)])
    task = journal.task("t1")
    assert task["state"] == COMPLETE and task["state_ts"] == t0 + 2
    assert task["attempts"] == 1


def test_a_late_older_batch_does_not_undo_a_newer_end(journal):
    now = time.time()
    journal.append([ev(ENQUEUED, "late", ts=now - 3)])
    journal.append([ev(ERROR, "late", ts=now - 1, error="interrupted: the consumer died")])
    # the dead consumer's writer flushes its "executing" after recovery wrote the above
    journal.append([ev(EXECUTING, "late", ts=now - 2, worker="Worker-9")])
    task = journal.task("late")
    assert task["state"] == ERROR and task["error"] == "interrupted: the consumer died"
    assert task["finished_at"] == pytest.approx(now - 1)
    assert task["worker"] is None and task["started_at"] is None  # not the late run's
    assert task["attempts"] == 1  # attempts add up, whatever the order
    # a newer run still replaces everything
    journal.append([ev(EXECUTING, "late", ts=now)])
    task = journal.task("late")
    assert task["state"] == EXECUTING and task["error"] is None and task["finished_at"] is None
    assert task["attempts"] == 2


def test_attempts_add_up_within_and_across_batches(journal):
    t0 = time.time()
    journal.append([ev(EXECUTING, ts=t0), ev(RETRYING, ts=t0 + 1), ev(EXECUTING, ts=t0 + 2)])
    journal.append([ev(RETRYING, ts=t0 + 3), ev(EXECUTING, ts=t0 + 4)])
    assert journal.task("t1")["attempts"] == 3


def test_flush_marks_waiting_tasks(journal):
    t0 = time.time()
    journal.append(
        [
            enqueued("a", ts=t0),
            ev(SCHEDULED, "s", ts=t0),
            ev(RETRYING, "r", ts=t0),
            ev(REVOKED, "v", ts=t0),
            ev(EXECUTING, "b", ts=t0),
            ev(COMPLETE, "c", ts=t0),
        ]
    )
    journal.append([NewEvent(kind=FLUSHED, ts=t0 + 1), enqueued("after", ts=t0 + 2)])
    for task_id in "asrv":
        task = journal.task(task_id)
        assert task["state"] == FLUSHED and task["finished_at"] == t0 + 1, task_id
    assert journal.task("b")["state"] == EXECUTING
    assert journal.task("c")["state"] == COMPLETE
    assert journal.task("after")["state"] == ENQUEUED
    assert journal.state_counts() == {FLUSHED: 4, EXECUTING: 1, COMPLETE: 1, ENQUEUED: 1}
    assert [e.kind for e in journal.tail(journal.START)][-2:] == [FLUSHED, ENQUEUED]


def test_flush_spares_a_task_that_changed_after_it(journal):
    t0 = time.time()
    journal.append([enqueued("a", ts=t0 + 5)])
    journal.append([NewEvent(kind=FLUSHED, ts=t0)])
    assert journal.task("a")["state"] == ENQUEUED


# -- consumers and workers -------------------------------------------------------------
def test_worker_state_follows_events(journal):
    journal.register_consumer("c1", host="h", pid=os.getpid(), workers=1)
    journal.append([ev(EXECUTING)])
    (worker,) = journal.workers()
    assert worker["state"] == "busy" and worker["task_id"] == "t1"
    assert worker["task_name"] == "app.job" and worker["pid"] == 123
    journal.append([ev(COMPLETE)])
    (worker,) = journal.workers()
    assert worker["state"] == "idle" and worker["task_id"] is None
    journal.append([ev(EXECUTING, "t2"), ev(RETRYING, "t2"), ev(EXECUTING, "t3")])
    assert journal.workers()[0]["task_id"] == "t3"
    journal.consumer_stopped("c1")
    (worker,) = journal.workers()
    assert worker["state"] == "stopped" and worker["task_id"] is None


def test_beat_and_stop_decide_who_is_live(journal):
    journal.register_consumer("c1", host="h1", pid=1, target="tasks:huey", workers=2)
    journal.register_consumer("c2", host="h2", pid=2, worker_type="thread", workers=1)
    assert journal.live_consumers() == {"c1", "c2"}
    before = time.time()
    journal.beat("c1", [("Worker-1", 11, True), ("Worker-2", 12, False)])
    journal.consumer_stopped("c2")
    assert journal.live_consumers() == {"c1"}
    c1, c2 = journal.consumers()
    assert (c1["consumer_id"], c1["host"], c1["pid"]) == ("c1", "h1", 1)
    assert c1["target"] == "tasks:huey"
    assert c1["workers"] == 2 and c1["last_beat"] >= before and c1["stopped_at"] is None
    assert c2["stopped_at"] >= before and c2["worker_type"] == "thread"
    # registering again (a restart with the same id) is a fresh start
    journal.register_consumer("c2", host="h2", pid=3, workers=1)
    assert journal.consumers()[1]["stopped_at"] is None
    assert journal.live_consumers() == {"c1", "c2"}


def test_workers_listing_with_consumer_beat_and_stop(journal):
    journal.register_consumer("c1", host="h1", pid=1, workers=2)
    journal.beat("c1", [("Worker-2", 12, True), ("Worker-1", 11, False)])
    w1, w2 = journal.workers()
    assert (w1["consumer_id"], w1["name"]) == ("c1", "Worker-1")
    assert (w1["pid"], w1["state"]) == (11, "idle")
    assert w1["last_beat"] is None and w2["last_beat"] is not None
    assert w1["host"] == "h1" and w1["consumer_beat"] is not None
    assert w1["consumer_stopped_at"] is None
    journal.append([ev(EXECUTING, worker="Worker-1")])
    journal.beat("c1", [("Worker-1", 99, True)])
    w1 = journal.workers()[0]
    assert w1["state"] == "busy" and w1["pid"] == 123 and w1["last_beat"] is not None
    journal.append([ev(COMPLETE, worker="Worker-1")])
    journal.beat("c1", [("Worker-1", 99, True)])
    assert journal.workers()[0]["pid"] == 99
    journal.consumer_stopped("c1")
    assert all(w["consumer_stopped_at"] is not None for w in journal.workers())
    # workers of a consumer nobody registered are not listed
    journal.beat("ghost", [("Worker-1", 1, True)])
    assert {w["consumer_id"] for w in journal.workers()} == {"c1"}


def test_running_tasks(journal):
    journal.register_consumer("c1", host="h", pid=1, workers=2)
    t0 = time.time()
    journal.append(
        [
            ev(EXECUTING, "a", ts=t0),
            ev(EXECUTING, "b", ts=t0, worker="Worker-2"),
            ev(EXECUTING, "c", ts=t0, consumer="gone"),
        ]
    )
    journal.append([ev(COMPLETE, "b", ts=t0 + 1, worker="Worker-2")])
    running = {r["task_id"]: r for r in journal.running_tasks()}
    assert set(running) == {"a", "c"}
    a = running["a"]
    assert (a["task_name"], a["worker"], a["pid"], a["consumer"]) == (
        "app.job",
        "Worker-1",
        123,
        "c1",
    )
    assert a["started_at"] == t0 and a["last_beat"] is not None and a["stopped_at"] is None
    assert running["c"]["last_beat"] is None and running["c"]["stopped_at"] is None
    journal.consumer_stopped("c1")
    assert {r["task_id"]: r for r in journal.running_tasks()}["a"]["stopped_at"] is not None


# -- lookups ---------------------------------------------------------------------------
def test_find_tasks_by_prefix(journal):
    ids = ["abc1", "abc2", "abd", "b_c", "b%c", "bxc"]
    journal.append([ev(ENQUEUED, i) for i in ids])
    assert sorted(journal.find_tasks("ab")) == ["abc1", "abc2", "abd"]
    assert sorted(journal.find_tasks("abc")) == ["abc1", "abc2"]
    assert len(journal.find_tasks("ab", limit=2)) == 2
    assert journal.find_tasks("b_") == ["b_c"] and journal.find_tasks("b%") == ["b%c"]
    assert journal.find_tasks("z") == []


def test_tasks_by_ids(journal):
    journal.append([enqueued("a"), enqueued("b"), enqueued("c")])
    rows = {r["task_id"]: r for r in journal.tasks_by_ids(["c", "a", "unknown"])}
    assert set(rows) == {"a", "c"}
    assert rows["a"]["state"] == ENQUEUED and rows["a"]["task_name"] == "app.job"
    assert rows["a"]["seq"] < rows["c"]["seq"]
    assert journal.tasks_by_ids([]) == []


def test_typical_duration(journal):
    assert journal.typical_duration() is None
    journal.append([ev(COMPLETE, f"a{i}", duration=float(i)) for i in (1, 2, 9)])
    other = NewEvent(COMPLETE, "o", "other.job", data={"duration": 100.0})
    journal.append([other, ev(ERROR, "e", duration=50.0)])
    assert journal.typical_duration("app.job") == 2.0
    assert journal.typical_duration("other.job") == 100.0
    assert journal.typical_duration() == 9.0  # median of 1, 2, 9, 100
    assert journal.typical_duration("unknown") is None
    assert journal.typical_duration("app.job", sample=1) == 9.0


def test_enqueue_times(journal):
    t0 = time.time()
    journal.append([enqueued("a", ts=t0), ev(SCHEDULED, "b", ts=t0 + 1), ev(EXECUTING, "c")])
    assert journal.enqueue_times(["a", "b", "c", "unknown", ""]) == {"a": t0, "b": t0 + 1}


def test_state_counts_match_the_tasks(journal):
    t0 = time.time()
    journal.append([ev(COMPLETE, "a"), ev(COMPLETE, "b"), ev(ERROR, "c")])
    assert journal.state_counts() == {COMPLETE: 2, ERROR: 1}
    journal.append(
        [
            enqueued("d", ts=t0),
            ev(EXECUTING, "d", ts=t0 + 1),
            ev(EXECUTING, "c", ts=t0 + 2),
            enqueued("e", ts=t0),
            ev(EXPIRED, "f", ts=t0),
            ev(PROGRESS, "g", ts=t0),
        ]
    )
    ids = "abcdefg"
    expected = collections.Counter(
        t["state"] for t in journal.tasks_by_ids(list(ids)) if t["state"]
    )
    assert journal.state_counts() == dict(expected)
    assert journal.state_counts() == {COMPLETE: 2, EXECUTING: 2, ENQUEUED: 1, EXPIRED: 1}


# -- upkeep ----------------------------------------------------------------------------
def test_prune_by_age_and_by_count(journal):
    old = time.time() - 100 * 86400
    journal.append([ev(COMPLETE, f"old{i}", ts=old) for i in range(5)])
    journal.append([ev(EXECUTING, "stuck", ts=old)])
    journal.append([ev(COMPLETE, f"new{i}") for i in range(5)])
    assert journal.prune(max_age_s=30 * 86400) == 6
    assert [e.task_id for e in journal.tail(journal.START)] == [f"new{i}" for i in range(5)]
    assert journal.task("old0") is None and journal.find_tasks("old") == []
    assert journal.task("stuck")["state"] == EXECUTING  # not finished: kept
    assert journal.state_counts() == {COMPLETE: 5, EXECUTING: 1}
    assert journal.prune(keep_events=2) == 3
    assert [e.task_id for e in journal.tail(journal.START)] == ["new3", "new4"]
    assert journal.task("new0")["state"] == COMPLETE  # counting prunes events only


def test_prune_splits_a_batch_by_time(journal):
    now = time.time()
    journal.append([ev(COMPLETE, "old", ts=now - 7200), ev(COMPLETE, "new", ts=now)])
    assert journal.prune(max_age_s=3600) == 1
    assert [e.task_id for e in journal.tail(journal.START)] == ["new"]


def test_prune_drops_silent_consumers(journal):
    journal.register_consumer("c1", host="h", pid=1, workers=1)
    journal.beat("c1", [("Worker-1", 2, True)])
    journal.prune(max_age_s=3600)
    assert [c["consumer_id"] for c in journal.consumers()] == ["c1"]
    journal.prune(max_age_s=-3600)  # everything is older than an hour from now
    assert journal.consumers() == [] and journal.workers() == []


def test_close_and_reopen_keeps_everything(open_journal):
    first = open_journal()
    first.register_consumer("c1", host="h", pid=1, workers=1)
    first.append([enqueued("a"), ev(EXECUTING, "a"), ev(COMPLETE, "b", duration=3.0)])
    before = (first.tail(first.START), first.task("a"), first.state_counts(), first.workers())
    first.close()
    again = open_journal()
    assert [e.cursor for e in again.tail(again.START)] == [e.cursor for e in before[0]]
    assert again.task("a") == before[1] and again.state_counts() == before[2]
    assert again.workers() == before[3] and again.typical_duration() == 3.0
    assert again.last_id() == before[0][-1].cursor


def test_tasks_in_state_walks_a_waiting_state_a_batch_at_a_time(journal):
    t0 = time.time() - 100
    journal.append([ev(ENQUEUED, f"p{n}", ts=t0 + n) for n in range(7)])
    journal.append([ev(SCHEDULED, "s1", ts=t0 + 50), ev(EXECUTING, "p3", ts=t0 + 60)])
    seen, after, calls = [], None, 0
    while True:
        rows, after = journal.tasks_in_state(ENQUEUED, after, limit=2)
        seen += [r["task_id"] for r in rows]
        calls += 1
        assert calls < 20
        if after is None:
            break
    assert sorted(seen) == ["p0", "p1", "p2", "p4", "p5", "p6"]
    assert all(r["task_name"] == "app.job" and r["state_ts"] for r in rows)
    rows, after = journal.tasks_in_state(SCHEDULED)
    assert [r["task_id"] for r in rows] == ["s1"] and after is None


def test_beat_says_whether_the_journal_knows_the_consumer(journal):
    assert journal.beat("nobody", []) is False
    journal.register_consumer("c1", host="h", pid=1)
    assert journal.beat("c1", [("Worker-1", 1, True)]) is True
