"""The inspector reads counts, pages, results and one task without changing anything."""

from __future__ import annotations

import os
import pickle
import time

import pytest

from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.errors import UserError
from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import COMPLETE, EXECUTING, NewEvent
from desktop_app.core.liveness import Liveness, host_name
from tests.core.test_safe_decode import _Exploit


@pytest.fixture
def inspector(huey, journal):
    return Inspector(huey, journal, "test:huey")


def test_counts_and_pages(inspector, huey, journal):
    dispatcher = Dispatcher(huey, journal)
    ids = [dispatcher.submit("add", [i]) for i in range(25)]
    dispatcher.submit("add", [99], delay=3600)
    huey.revoke_by_id(ids[0])  # a revoke flag is not a result
    counts = inspector.counts()
    assert counts == {"pending": 26, "scheduled": 0, "results": 0}
    page = inspector.pending(offset=10, limit=5)
    assert [p.id for p in page] == ids[10:15]
    assert page[0].args_preview == "10"
    assert page[0].enqueued_at is not None
    assert inspector.pending(limit=100_000)[-1].args_preview == "99"  # page size is capped
    with pytest.raises(UserError):
        inspector.pending(offset=-1)


def test_results_are_peeked_never_consumed(inspector, huey):
    huey.put_result("abc", 42)
    assert inspector.peek_result("abc").value == 42
    assert inspector.peek_result("abc").value == 42
    assert huey.result("abc") == 42  # still there for the real owner
    assert inspector.peek_result("abc") is None


def test_crafted_queue_row_is_shown_as_undecodable(inspector, huey, tmp_path):
    marker = tmp_path / "created-by-pickle"
    huey.storage.enqueue(pickle.dumps(_Exploit(marker)), 0)
    (row,) = inspector.pending()
    assert not row.ok and "not a Huey message" in row.error
    status = inspector.status()
    assert status["pending"] == 1
    assert not marker.exists()


def test_status_counts_states_and_treats_orphans_as_interrupted(inspector, journal):
    journal.register_consumer("alive", host="h", pid=os.getpid(), workers=1)
    journal.append([NewEvent(EXECUTING, "t1", "a.b", worker="Worker-1", consumer="alive")])
    journal.append([NewEvent(EXECUTING, "t2", "a.b", worker="Worker-1", consumer="gone")])
    journal.append([NewEvent(EXECUTING, "t3", "a.b"), NewEvent(COMPLETE, "t3", "a.b")])
    journal.beat("alive", [("Worker-1", os.getpid(), True)])
    status = inspector.status()
    assert status["running"] == 1
    assert status["counts"]["complete"] == 1
    assert status["counts"]["interrupted"] == 1
    (worker,) = status["workers"]
    assert worker["state"] == "busy" and worker["task_id"] == "t1"


def test_worker_state_from_heartbeats_and_the_liveness_rule(journal):
    now = time.time()
    journal.register_consumer("here", host=host_name(), pid=os.getpid())
    live = Liveness(journal, host_name(), now)
    row = {"consumer_id": "here", "state": "busy", "last_beat": now, "consumer_beat": now}
    assert live.worker_state(row) == "busy"
    assert live.worker_state({**row, "last_beat": now - 60}) == "dead"
    assert live.worker_state({**row, "consumer_stopped_at": now}) == "stopped"
    # its consumer gone (by the one rule): dead at once, as its task is interrupted
    gone = {**row, "consumer_id": "not-an-id"}
    assert live.worker_state(gone) == "dead"


def test_show_one_task(inspector, huey, journal):
    task_id = Dispatcher(huey, journal).submit("add", [1], {"b": 2})
    info = inspector.show(task_id[:8])
    assert info["id"] == task_id
    assert info["state"] == "enqueued"
    assert info["args"] == [1] and info["kwargs"] == {"b": 2}
    assert info["queued"]["id"] == task_id
    assert [e["kind"] for e in info["events"]] == ["enqueued"]
    with pytest.raises(UserError, match="No task 'nope'"):
        inspector.show("nope")


def test_show_reads_an_error_result_left_by_a_consumer_without_hooks(inspector, huey):
    from huey.utils import Error

    huey.put_result(
        "e1",
        Error(
            {
                "error": "ValueError('x')",
                "traceback": "Traceback: x",
                "task_id": "e1",
                "retries": 0,
            }
        ),
    )
    info = inspector.show("e1")
    assert info["error"] == "ValueError('x')"
    assert info["traceback"] == "Traceback: x"


def test_estimated_start_from_queue_depth_and_typical_duration(inspector, huey, journal):
    dispatcher = Dispatcher(huey, journal)
    assert inspector.estimate_start("test.add") == 0.0  # nothing ahead
    for i in range(4):
        dispatcher.submit("add", [i])
    assert inspector.estimate_start("test.add") is None  # no history to go by
    for i, duration in enumerate((1.0, 2.0, 3.0)):
        journal.append(
            [
                NewEvent(EXECUTING, f"h{i}", "test.add"),
                NewEvent(COMPLETE, f"h{i}", "test.add", data={"duration": duration}),
            ]
        )
    assert journal.typical_duration("test.add") == 2.0
    journal.register_consumer("c", host="h", pid=os.getpid(), workers=2)
    journal.beat("c", [("Worker-1", os.getpid(), True), ("Worker-2", os.getpid(), True)])
    assert inspector.estimate_start("test.add") == pytest.approx(4 * 2.0 / 2)


# -- ids typed by hand: tasks the project enqueued itself (issue 14) ----------------------
def _enqueue_with_id(huey, task_id: str, delay: float | None = None) -> str:
    add = huey.test_tasks["add"]
    task = add.task_class(args=(1, 2), id=task_id)
    if delay:
        task.eta = huey._get_timestamp() + __import__("datetime").timedelta(seconds=delay)
        huey.storage.add_to_schedule(huey.serialize_task(task), task.eta)
    else:
        huey.enqueue(task)
    return task_id


@pytest.mark.parametrize("compression", [False, True])
def test_prefix_finds_a_task_enqueued_by_plain_huey(tmp_path, journal, compression):
    from tests.core.conftest import make_huey

    huey = make_huey(tmp_path / f"plain-{compression}.db", compression=compression)
    inspector = Inspector(huey, journal, "test:huey")
    task_id = huey.test_tasks["add"](1, 2).id  # no Huey Desk involved: not in the journal
    assert inspector.resolve_id(task_id[:8]) == task_id
    info = inspector.show(task_id[:8])
    assert info["id"] == task_id and info["state"] == "enqueued"
    assert info["queued"]["args"] == "1, 2"
    later = _enqueue_with_id(huey, "sched-0001-abc", delay=3600)
    assert inspector.resolve_id("sched-0001") == later
    huey.storage.close()


def test_prefix_finds_a_stored_result_and_lists_ambiguous_candidates(inspector, huey):
    huey.put_result("feedface-0001", 15)
    assert inspector.resolve_id("feedface") == "feedface-0001"
    assert inspector.show("feedface")["result"] == 15
    _enqueue_with_id(huey, "feedface-0002")
    _enqueue_with_id(huey, "feedface-0003", delay=60)
    with pytest.raises(UserError, match="ambiguous") as info:
        inspector.resolve_id("feedface")
    text = str(info.value)
    assert all(f"feedface-000{i}" in text for i in (1, 2, 3))
    assert inspector.resolve_id("feedface-0002") == "feedface-0002"


def test_unknown_id_says_how_far_a_compressed_queue_was_searched(tmp_path, journal, monkeypatch):
    from desktop_app.core import inspector as module
    from tests.core.conftest import make_huey

    monkeypatch.setattr(module, "QUEUE_SCAN", 5)
    huey = make_huey(tmp_path / "zipped.db", compression=True)
    for i in range(7):
        huey.test_tasks["add"](i)
    with pytest.raises(UserError, match="looked through the first 5 of 7 queued"):
        Inspector(huey, journal).show("zzzzzzzz")
    huey.storage.close()


# -- a consumer without Huey Desk's hooks (issue 14) ---------------------------------------
def _run_like_a_stock_worker(huey) -> None:
    """What a stock huey consumer's worker does with the next message: take it, run it,
    store its result (or its Error); no Huey Desk hook fires."""
    task = huey.dequeue()
    try:
        huey.execute(task)
    except Exception:
        pass  # the stock worker logs it; the Error is stored


@pytest.fixture
def no_lag(monkeypatch):
    """Trust storage over the journal at once (not after JOURNAL_LAG_S)."""
    from desktop_app.core import inspector as module

    monkeypatch.setattr(module, "JOURNAL_LAG_S", -1.0)


def test_show_reports_what_storage_knows_when_the_journal_lags(inspector, huey, journal, no_lag):
    dispatcher = Dispatcher(huey, journal)
    done = dispatcher.submit("add", [7], {"b": 8})
    failed = dispatcher.submit("boom", ["disk on fire"])
    _run_like_a_stock_worker(huey)
    _run_like_a_stock_worker(huey)
    assert journal.task(done)["state"] == "enqueued"  # the journal never heard
    info = inspector.show(done)
    assert info["state"] == COMPLETE and info["result"] == 15
    assert any("huey-desk consumer" in n for n in info["notes"])
    info = inspector.show(failed)
    assert info["state"] == "error" and "disk on fire" in info["error"]
    assert any("does not report to Huey Desk" in n for n in info["notes"])


def test_journal_events_just_behind_are_waited_for(inspector, huey, journal):
    task_id = Dispatcher(huey, journal).submit("add", [7], {"b": 8})
    _run_like_a_stock_worker(huey)  # as our consumer would, a few ms before its events
    assert inspector.show(task_id)["state"] == "enqueued"
    assert inspector.reconcile() == 0
    assert inspector.reconcile() == 0


def test_reconcile_leaves_a_task_whose_events_arrive_in_between(inspector, huey, journal, no_lag):
    task_id = Dispatcher(huey, journal).submit("add", [7])
    _run_like_a_stock_worker(huey)
    assert inspector.reconcile() == 0
    journal.append([NewEvent(EXECUTING, task_id, "test.add"), NewEvent(COMPLETE, task_id)])
    assert inspector.reconcile() == 0
    assert [e.kind for e in journal.events_for(task_id)] == ["enqueued", EXECUTING, COMPLETE]


def test_reconcile_journals_what_a_stock_consumer_finished(inspector, huey, journal, no_lag):
    dispatcher = Dispatcher(huey, journal)
    done = dispatcher.submit("add", [7], {"b": 8})
    failed = dispatcher.submit("boom", ["disk on fire"])
    waiting = dispatcher.submit("add", [1])
    later = dispatcher.submit("add", [2], delay=3600)
    _run_like_a_stock_worker(huey)
    _run_like_a_stock_worker(huey)
    assert inspector.reconcile(limit=10) == 0  # seen once: our consumer's events may follow
    assert journal.task(done)["state"] == "enqueued"
    assert inspector.reconcile(limit=10) == 2
    assert journal.task(done)["state"] == COMPLETE
    assert journal.task(done)["result_preview"] == "15"
    assert journal.task(failed)["state"] == "error"
    assert "disk on fire" in journal.task(failed)["error"]
    assert journal.task(waiting)["state"] == "enqueued"  # still queued, no result
    assert journal.task(later)["state"] == "scheduled"
    (event,) = [e for e in journal.events_for(done) if e.kind == COMPLETE]
    assert event.data["detected"] == "storage"
    assert inspector.reconcile(limit=10) == 0  # nothing more to catch up with
    assert any("huey-desk consumer" in n for n in inspector.show(done)["notes"])


def test_reconcile_is_bounded_and_goes_round(inspector, huey, journal, no_lag):
    dispatcher = Dispatcher(huey, journal)
    ids = [dispatcher.submit("add", [i]) for i in range(5)]
    for _ in ids:
        _run_like_a_stock_worker(huey)
    assert [inspector.reconcile(limit=2) for _ in range(5)] == [0, 2, 2, 1, 0]
    assert {journal.task(i)["state"] for i in ids} == {COMPLETE}


def test_reconcile_leaves_a_retry_that_waits_again(inspector, huey, journal, no_lag):
    task_id = Dispatcher(huey, journal).submit("add", [1])
    huey.put_result(task_id, 3)  # an intermediate result, and the message still queued
    assert inspector.reconcile() == 0
    assert inspector.reconcile() == 0
    assert journal.task(task_id)["state"] == "enqueued"
    assert inspector.show(task_id)["state"] == "enqueued"


def test_queue_location_names_the_file_or_the_instance(huey, tmp_path):
    from huey import MemoryHuey

    from desktop_app.core.paths import queue_location

    assert queue_location(huey) == str((tmp_path / "queue.db").resolve())
    assert queue_location(MemoryHuey("mem")) == "'mem'"
    assert Inspector(MemoryHuey("mem"), None)._where == "'mem'"


def test_a_dead_local_consumer_is_summed_up_once_with_its_workers(inspector, journal):
    from desktop_app.core.liveness import SETTLE_S
    from tests.core.test_liveness import STARTED, dead_pid

    pid = dead_pid()
    journal.register_consumer("died", host=host_name(), pid=pid, workers=2)
    journal.beat("died", [("Worker-1", pid, True), ("Worker-2", pid, True)])
    journal.connection().execute(
        "UPDATE consumers SET last_beat = ?, started_at = ? WHERE consumer_id = 'died'",
        (time.time() - SETTLE_S - 1, STARTED),
    )
    journal.register_consumer("alive", host=host_name(), pid=os.getpid(), workers=1)
    journal.beat("alive", [("Worker-1", os.getpid(), True)])
    status = inspector.status()
    [gone] = status["gone"]
    assert gone["consumer"] == "died" and gone["workers"] == 2 and gone["pid"] == pid
    assert gone["why"] == "the consumer died" and gone["host"] == host_name()
    # its Worker-1 is left out (the live consumer's Worker-1 stands for it): still two
    assert [(w["consumer"], w["state"]) for w in status["workers"]] == [
        ("alive", "idle"),
        ("died", "dead"),
    ]
