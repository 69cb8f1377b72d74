"""The journal: append-only events, a cursor, task summaries, workers, retention."""

from __future__ import annotations

import os
import stat
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


def ev(kind, task_id="t1", ts=None, **data):
    return NewEvent(
        kind=kind,
        task_id=task_id,
        task_name="app.job",
        ts=ts or time.time(),
        pid=123,
        worker="Worker-1",
        consumer="c1",
        data=data,
    )


def test_tail_reads_after_a_cursor(journal):
    journal.append([ev(ENQUEUED, f"t{i}") for i in range(10)])
    first = journal.tail(0, 4)
    assert [e.task_id for e in first] == ["t0", "t1", "t2", "t3"]
    rest = journal.tail(first[-1].id, 100)
    assert [e.task_id for e in rest] == [f"t{i}" for i in range(4, 10)]
    assert journal.tail(rest[-1].id) == []
    assert journal.last_id() == rest[-1].id


def test_task_summary_follows_the_life_of_a_task(journal):
    t0 = time.time()
    journal.append([ev(ENQUEUED, ts=t0, args=[1], kwargs={}, args_exact=1, args_preview="1")])
    journal.append(
        [ev(EXECUTING, ts=t0 + 1), ev(PROGRESS, ts=t0 + 2, progress=0.5, progress_message="half")]
    )
    running = journal.task("t1")
    assert running["state"] == EXECUTING
    assert running["progress"] == 0.5 and running["worker"] == "Worker-1"
    journal.append([ev(ERROR, ts=t0 + 3, error="boom", traceback="Traceback...", duration=2.0)])
    failed = journal.task("t1")
    assert failed["state"] == ERROR and failed["traceback"] == "Traceback..."
    assert failed["args"] == [1] and failed["enqueued_at"] == t0
    journal.append([ev(EXECUTING, ts=t0 + 4), ev(COMPLETE, ts=t0 + 5, result_preview="3")])
    done = journal.task("t1")
    assert done["state"] == COMPLETE and done["error"] is None and done["attempts"] == 2
    assert [e.kind for e in journal.events_for("t1")] == [
        ENQUEUED,
        EXECUTING,
        PROGRESS,
        ERROR,
        EXECUTING,
        COMPLETE,
    ]


def test_late_enqueued_event_does_not_roll_state_back(journal):
    t0 = time.time()
    journal.append([ev(EXECUTING, ts=t0 + 1)])
    journal.append([ev(ENQUEUED, ts=t0, args=[], kwargs={}, args_exact=1, args_preview="")])
    record = journal.task("t1")
    assert record["state"] == EXECUTING
    assert record["enqueued_at"] == t0


def test_worker_state_follows_events(journal):
    journal.register_consumer("c1", host="h", pid=os.getpid(), workers=1)
    journal.append([ev(EXECUTING)])
    (worker,) = journal.workers()
    assert worker["state"] == "busy" and worker["task_id"] == "t1"
    journal.append([ev(COMPLETE)])
    assert journal.workers()[0]["state"] == "idle"
    journal.consumer_stopped("c1")
    assert journal.workers()[0]["state"] == "stopped"


def test_flush_marks_waiting_tasks(journal):
    journal.append([ev(ENQUEUED, "a"), ev(EXECUTING, "b")])
    journal.append([NewEvent(kind=FLUSHED)])
    assert journal.task("a")["state"] == FLUSHED
    assert journal.task("b")["state"] == EXECUTING


def test_prune_keeps_the_newest(journal):
    old = time.time() - 100 * 86400
    journal.append([ev(COMPLETE, f"old{i}", ts=old) for i in range(5)])
    journal.append([ev(COMPLETE, f"new{i}") for i in range(5)])
    journal.prune(max_age_s=30 * 86400)
    assert [e.task_id for e in journal.tail()] == [f"new{i}" for i in range(5)]
    assert journal.task("old0") is None
    journal.prune(keep_events=2)
    assert [e.task_id for e in journal.tail()] == ["new3", "new4"]


def test_state_counts(journal):
    journal.append([ev(COMPLETE, "a"), ev(COMPLETE, "b"), ev(ERROR, "c")])
    assert journal.state_counts() == {COMPLETE: 2, ERROR: 1}


def test_file_is_private_and_survives_reopening(tmp_path):
    path = tmp_path / "j.sqlite"
    first = SqliteJournal(path)
    first.append([ev(ENQUEUED)])
    first.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = SqliteJournal(path)
    assert [e.kind for e in again.tail()] == [ENQUEUED]
    again.close()


def test_ids_are_never_reused_after_pruning(journal):
    journal.append([ev(ENQUEUED, f"t{i}") for i in range(3)])
    last = journal.last_id()
    journal.prune(keep_events=0)
    journal.append([ev(ENQUEUED, "later")])
    assert journal.tail(last)[0].id > last


def test_a_late_older_batch_does_not_undo_a_newer_end(journal):
    now = time.time()
    journal.append([ev(ENQUEUED, "late", ts=now - 3)])
    journal.append([ev(ERROR, "late", ts=now - 1, error="interrupted: the consumer died")])
    # the dead consumer's writer flushes its "executing" after recovery wrote the above
    journal.append([ev(EXECUTING, "late", ts=now - 2)])
    task = journal.task("late")
    assert task["state"] == ERROR and task["error"] == "interrupted: the consumer died"
    assert task["finished_at"] == pytest.approx(now - 1)
    # a newer run still replaces everything
    journal.append([ev(EXECUTING, "late", ts=now)])
    task = journal.task("late")
    assert task["state"] == EXECUTING and task["error"] is None and task["finished_at"] is None
