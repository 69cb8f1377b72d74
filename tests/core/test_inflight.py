"""In-flight messages: taken and recorded in one transaction, released on every outcome,
recovered (and re-run once, when the task declared retries) after their consumer died."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import psutil
import pytest
from huey import MemoryHuey
from huey.exceptions import RetryTask

from desktop_app.core import inflight as inflight_mod
from desktop_app.core import liveness
from desktop_app.core.consumer import DeskWorker
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.errors import UserError
from desktop_app.core.inflight import (
    InFlight,
    inflight_count,
    kept_interrupted,
    recover,
    rerun_interrupted,
)
from desktop_app.core.journal import NewEvent
from desktop_app.core.liveness import process_alive
from desktop_app.core.states import COMPLETE, ENQUEUED, EXECUTING, INTERRUPTED, RESTORED
from tests.helpers import ROOT

HOST = socket.gethostname()


def rows(huey, table="desk_inflight"):
    return huey.storage.sql(f"SELECT * FROM {table}", results=True)


def queued(huey):
    return huey.storage.sql("SELECT count(*) FROM task", results=True)[0][0]


@pytest.fixture
def tracked(huey):
    """The test huey with in-flight tracking for a consumer that is this process."""
    consumer_id = f"{HOST}:{os.getpid()}:{int(time.time() * 1000)}"
    tracker = InFlight(huey, consumer_id)
    tracker.install()
    yield tracker
    tracker.uninstall()


@pytest.fixture
def settled(monkeypatch):
    """No settling delay: these tests write the dead consumer's events themselves."""
    monkeypatch.setattr(inflight_mod, "SETTLE_S", 0.0)
    monkeypatch.setattr(liveness, "SETTLE_S", 0.0)


def test_take_moves_the_message_into_the_inflight_table_in_one_transaction(huey, tracked):
    result = huey.test_tasks["add"](1, 2)
    data = huey.storage.dequeue()
    assert data is not None and queued(huey) == 0
    [(_, queue, stored, _, consumer, worker, pid, taken_at)] = rows(huey)
    assert (queue, bytes(stored), consumer) == ("test", bytes(data), tracked.consumer_id)
    assert worker == threading.current_thread().name and pid == os.getpid()
    assert abs(taken_at - time.time()) < 5
    assert huey.deserialize_task(data).id == result.id
    assert huey.storage.dequeue() is None  # empty queue: nothing taken, nothing recorded
    assert len(rows(huey)) == 1
    [row] = inflight_mod._rows(huey.storage)  # what recovery reads: named fields
    assert (row.consumer, row.worker, row.pid, bytes(row.data)) == (
        tracked.consumer_id,
        threading.current_thread().name,
        os.getpid(),
        bytes(data),
    )


def test_a_failed_record_leaves_the_message_in_the_queue(huey, tracked):
    huey.test_tasks["add"](1, 2)
    huey.storage.sql("DROP TABLE desk_inflight", commit=True)
    with pytest.raises(sqlite3.OperationalError):
        huey.storage.dequeue()
    assert queued(huey) == 1  # the delete was rolled back with the failed insert


def test_other_storages_are_left_alone():
    memory = MemoryHuey("mem")
    with pytest.raises(TypeError):
        InFlight(memory, "c")
    assert inflight_count(memory) == 0 and kept_interrupted(memory) == []


@pytest.fixture
def worker(huey, tracked):
    """A DeskWorker of this process, run one loop at a time."""
    w = DeskWorker(huey, threading.Event(), 0.1, 1.0, 1.15)
    w.inflight = tracked
    w.consumer_pid = os.getpid()
    w.initialize()
    yield w
    w.shutdown()


def test_the_row_is_released_whatever_the_outcome(huey, worker):
    @huey.task(retries=1, retry_delay=0)
    def fails_once() -> None:
        raise RuntimeError("again")

    @huey.task()
    def asks_retry() -> None:
        raise RetryTask(delay=3600)

    later = huey.test_tasks["add"].schedule((1, 2), delay=3600)
    revoked = huey.test_tasks["add"](5)
    revoked.revoke()
    outcomes = [
        lambda: huey.test_tasks["add"](1, 2),  # complete
        lambda: huey.test_tasks["boom"](),  # error
        fails_once,  # error, then retried (a new message on the queue)
        asks_retry,  # RetryTask: scheduled for later
    ]
    for call in outcomes:
        call()
    while queued(huey):
        worker.loop()
        # released with the next take, in its transaction
        assert len(rows(huey)) == 1, "a finished message must leave the in-flight table"
    assert huey.storage.dequeue() is None and rows(huey) == []  # empty: released at once
    assert huey.storage.schedule_size() >= 2  # the delayed task and the RetryTask
    assert later.id and revoked.id


def test_an_interrupted_task_keeps_its_row_for_recovery(huey, worker):
    @huey.task()
    def interrupted() -> None:
        raise KeyboardInterrupt  # what a process worker's SIGTERM handler raises

    @huey.task()
    def exits() -> None:
        raise SystemExit(3)  # escapes Huey's loop: the worker stops mid-task

    interrupted()
    worker.loop()
    assert len(rows(huey)) == 1
    exits()
    with pytest.raises(SystemExit):
        worker.loop()
    assert len(rows(huey)) == 2
    huey.test_tasks["add"](1)
    worker.loop()  # the next message is released as usual
    worker.shutdown()  # (here: when the worker stops)
    assert len(rows(huey)) == 2


def _die_after_taking(
    queue_db, journal_path, *, start_task=False, end_task=False, schedule=False
) -> int:
    """A consumer process that takes one message (and maybe journals "executing", and
    "complete") and is SIGKILLed before doing anything more; returns its pid."""
    code = f"""
import os, signal, socket, time
from huey import SqliteHuey
from desktop_app.core.inflight import InFlight
from desktop_app.core.journal import COMPLETE, EXECUTING, NewEvent, SqliteJournal
from desktop_app.core.safe_decode import decode_message

huey = SqliteHuey("test", filename={str(queue_db)!r})
journal = SqliteJournal({str(journal_path)!r})
cid = f"{{socket.gethostname()}}:{{os.getpid()}}:{{int(time.time() * 1000)}}"
journal.register_consumer(cid, host=socket.gethostname(), pid=os.getpid())
tracker = InFlight(huey, cid)
tracker.install()
data = huey.storage.dequeue()
if {start_task!r}:
    view = decode_message(huey.serializer, data)
    journal.append([NewEvent(EXECUTING, view.id, view.name, pid=os.getpid(),
                             worker="MainThread", consumer=cid)])
if {end_task!r}:
    journal.append([NewEvent(COMPLETE, view.id, view.name, pid=os.getpid(),
                             worker="MainThread", consumer=cid)])
if {schedule!r}:  # what a worker does with a message whose time has not come
    import datetime
    view = decode_message(huey.serializer, data)
    huey.storage.add_to_schedule(data, datetime.datetime.now() + datetime.timedelta(hours=1))
    journal.append([NewEvent("scheduled", view.id, view.name, pid=os.getpid(),
                             worker="MainThread", consumer=cid)])
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    return proc.pid


def test_a_take_moved_to_the_schedule_before_the_kill_is_not_run_twice(
    huey, journal, tmp_path, settled
):
    from tests.core.conftest import Colour

    task = huey.test_tasks["paint"].schedule((Colour.RED,), delay=3600)  # retries=2
    _die_after_taking(tmp_path / "queue.db", journal.path, schedule=True)
    report = recover(huey, journal, rerun=True)
    assert not report.interrupted and report.ended == 1
    assert rows(huey) == [] and queued(huey) == 0  # not put back on the queue
    assert huey.scheduled_count() == 1 and journal.task(task.id)["state"] == "scheduled"


def test_a_kill_between_take_and_executing_is_recovered_and_rerun(
    huey, journal, tmp_path, settled
):
    from tests.core.conftest import Colour

    keep = huey.test_tasks["add"](1, 2)  # declared no retries: kept, not re-run
    _die_after_taking(tmp_path / "queue.db", journal.path)
    rerun = huey.test_tasks["paint"](Colour.RED)  # retries=2
    dead_pid = _die_after_taking(tmp_path / "queue.db", journal.path, start_task=True)
    assert len(rows(huey)) == 2 and queued(huey) == 0

    report = recover(huey, journal, rerun=True)
    by_id = {t.task_id: t for t in report.interrupted}
    assert set(by_id) == {keep.id, rerun.id}
    assert not by_id[keep.id].started and by_id[keep.id].kept and not by_id[keep.id].rerun
    assert "before it was seen to start" in by_id[keep.id].error
    assert by_id[rerun.id].started and by_id[rerun.id].rerun
    assert f"while MainThread (pid {dead_pid}) ran it" in by_id[rerun.id].error
    assert report.rerun == [rerun.id]

    # taken but never journalled: its id and name come from the message, decoded safely
    record = journal.task(keep.id)
    assert record["state"] == INTERRUPTED and record["task_name"].endswith(".add")
    assert "the consumer died" in record["error"]
    # the re-run is the original message, back on the queue, journalled as restored
    assert rows(huey) == [] and queued(huey) == 1
    assert huey.dequeue().id == rerun.id
    kinds = [e.kind for e in journal.events_for(rerun.id)]
    assert kinds[-2:] == [INTERRUPTED, RESTORED]
    assert journal.events_for(rerun.id)[-1].data["reason"] == "re-run after interruption"
    assert [k["task_id"] for k in kept_interrupted(huey)] == [keep.id]
    assert not recover(huey, journal, rerun=True)  # exactly once


def test_retry_puts_back_the_kept_message_of_an_interrupted_task(huey, journal, tmp_path, settled):
    task = huey.test_tasks["add"](4, 5)
    _die_after_taking(tmp_path / "queue.db", journal.path)
    recover(huey, journal, rerun=True)
    assert journal.task(task.id)["args"] is None  # the journal never saw the arguments
    assert Dispatcher(huey, journal).retry(task.id) == task.id  # the one rule, both fronts
    message = huey.dequeue()
    assert (message.id, message.args) == (task.id, (4, 5))
    assert journal.task(task.id)["state"] == ENQUEUED
    restored = journal.events_for(task.id)[-1]
    assert restored.kind == RESTORED and restored.data["requested"] and restored.data["rerun"]
    assert kept_interrupted(huey) == []
    with pytest.raises(UserError):
        Dispatcher(huey, journal).retry(task.id)  # nothing kept now: the journal rule refuses


def test_retry_without_a_kept_message_enqueues_a_new_task(huey, journal):
    journal.append(
        [
            NewEvent(
                EXECUTING,
                "t-1",
                "tests.core.conftest.add",
                data={"args": [7], "kwargs": {}, "args_exact": 1},
            ),
            NewEvent(INTERRUPTED, "t-1", "tests.core.conftest.add", data={"error": "x"}),
        ]
    )
    new_id = Dispatcher(huey, journal).retry("t-1")
    assert new_id != "t-1" and huey.dequeue().args == (7,)
    assert journal.task(new_id)["retry_of"] == "t-1"


def test_rerun_interrupted_is_only_a_name_for_the_retry_rule(huey, journal, tmp_path, settled):
    task = huey.test_tasks["add"](1, 1)
    _die_after_taking(tmp_path / "queue.db", journal.path)
    recover(huey, journal)
    assert rerun_interrupted(huey, journal, task.id) == task.id
    assert huey.dequeue().id == task.id


def test_reruns_are_bounded_by_the_declared_retries(huey, journal, tmp_path, settled):
    from tests.core.conftest import Colour

    task = huey.test_tasks["paint"](Colour.GREEN)  # retries=2
    outcomes = []
    for _ in range(3):
        _die_after_taking(tmp_path / "queue.db", journal.path)
        [item] = recover(huey, journal, rerun=True).interrupted
        outcomes.append(item.rerun)
    assert outcomes == [True, True, False]
    assert queued(huey) == 0 and [k["task_id"] for k in kept_interrupted(huey)] == [task.id]


def test_recovery_leaves_live_consumers_alone_and_is_cheap(huey, journal, tracked, settled):
    journal.register_consumer(tracked.consumer_id, host=HOST, pid=os.getpid())
    before = journal.last_id()
    assert not recover(huey, journal, rerun=True)  # nothing to do: nothing written
    huey.test_tasks["add"](1)
    huey.storage.dequeue()
    assert not recover(huey, journal, rerun=True)
    assert len(rows(huey)) == 1 and journal.last_id() == before


def test_a_reused_pid_is_not_taken_for_the_consumer(huey, journal, settled):
    me = psutil.Process().create_time()
    assert process_alive(os.getpid(), started_by=time.time())
    assert not process_alive(os.getpid(), started_by=me - 60)
    # a consumer unknown to the journal whose id names this pid, but started long before
    tracker = InFlight(huey, f"{HOST}:{os.getpid()}:1000")
    tracker.install()
    try:
        huey.test_tasks["add"](1)
        huey.storage.dequeue()
    finally:
        tracker.uninstall()
    [item] = recover(huey, journal).interrupted
    assert item.kept and "the consumer died" in item.error


def test_sigterm_interruption_is_not_recorded_twice(huey, journal, settled):
    task = huey.test_tasks["add"](1)
    consumer_id = f"{HOST}:{os.getpid()}:{int(time.time() * 1000)}"
    journal.register_consumer(consumer_id, host=HOST, pid=os.getpid())
    tracker = InFlight(huey, consumer_id)
    tracker.install()
    try:
        huey.storage.dequeue()
    finally:
        tracker.uninstall()
    later = time.time() + 0.01
    journal.append(
        [
            NewEvent(EXECUTING, task.id, "add", ts=later, worker="Worker-1", consumer=consumer_id),
            NewEvent(INTERRUPTED, task.id, "add", ts=later + 0.01, data={"error": "stopped"}),
        ]
    )
    journal.consumer_stopped(consumer_id)
    [item] = recover(huey, journal).interrupted
    assert item.started and "the consumer was stopped" in item.error
    kinds = [e.kind for e in journal.events_for(task.id)]
    assert kinds.count(INTERRUPTED) == 1


def test_executing_tasks_of_dead_consumers_without_inflight_rows(journal, settled):
    memory = MemoryHuey("mem")
    journal.register_consumer("gone", host="elsewhere", pid=1)
    journal.consumer_stopped("gone")
    journal.register_consumer(f"{HOST}:{os.getpid()}:1", host=HOST, pid=os.getpid())
    journal.append(
        [
            NewEvent(EXECUTING, "a", "t", worker="Worker-1", pid=1, consumer="gone"),
            NewEvent(EXECUTING, "b", "t", worker="Worker-1", consumer=f"{HOST}:{os.getpid()}:1"),
            NewEvent(EXECUTING, "c", "t", worker="Worker-2", pid=2, consumer="gone"),
            NewEvent(COMPLETE, "c", "t", worker="Worker-2", consumer="gone"),
        ]
    )
    report = recover(memory, journal, rerun=True)
    assert [t.task_id for t in report.interrupted] == ["a"]
    assert journal.task("a")["state"] == INTERRUPTED
    assert "the consumer was stopped while Worker-1 (pid 1) ran it" in journal.task("a")["error"]
    assert journal.task("b")["state"] == EXECUTING
    assert not recover(memory, journal)


def test_a_task_that_ended_before_its_row_was_released_is_not_interrupted(
    huey, journal, tmp_path, settled
):
    from tests.core.conftest import Colour

    task = huey.test_tasks["paint"](Colour.RED)
    _die_after_taking(tmp_path / "queue.db", journal.path, start_task=True, end_task=True)
    report = recover(huey, journal, rerun=True)
    assert not report and report.ended == 1
    assert rows(huey) == [] and queued(huey) == 0 and kept_interrupted(huey) == []
    assert journal.task(task.id)["state"] == COMPLETE


def test_take_removes_what_hueys_own_dequeue_removes(tmp_path):
    """``InFlight.take`` copies Huey's private dequeue query: an upgraded Huey that
    changes its order (priorities, ties, negative and fractional priorities) fails here."""
    from huey import SqliteHuey

    priorities = [0, 5, -1, 5, 2.5, 0, None, 7, -1, 7, 2.5, 0]
    order = {}
    for kind in ("stock", "take"):
        huey = SqliteHuey("order", filename=str(tmp_path / f"{kind}.db"))
        for i, priority in enumerate(priorities):
            huey.storage.enqueue(f"m{i}".encode(), priority)
        elsewhere = SqliteHuey("elsewhere", filename=str(tmp_path / f"{kind}.db"))
        elsewhere.storage.enqueue(b"another queue's", 99)  # never taken by this queue
        elsewhere.storage.close()
        if kind == "take":
            tracker = InFlight(huey, f"{HOST}:{os.getpid()}:1")
            tracker.install()
        taken = []
        while (data := huey.storage.dequeue()) is not None:
            taken.append(bytes(data))
            if kind == "take":
                tracker.finish()
        order[kind] = taken
        if kind == "take":
            tracker.uninstall()
        huey.storage.close()
    assert order["take"] == order["stock"]
    assert len(order["stock"]) == len(priorities)
