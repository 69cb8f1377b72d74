"""Dispatching: validated enqueue now / later / with priority; retry, revoke, restore, flush."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest
from huey import Huey
from huey import signals as S
from huey.storage import MemoryStorage
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.errors import QueueBusyError, UserError
from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import NewEvent
from desktop_app.core.states import COMPLETE, ENQUEUED, ERROR, EXECUTING, REVOKED, SCHEDULED


@pytest.fixture
def dispatcher(huey, journal):
    return Dispatcher(huey, journal)


def test_submit_enqueues_and_journals(dispatcher, huey, journal):
    task_id = dispatcher.submit("add", [1], {"b": 5})
    assert huey.pending_count() == 1
    (message,) = huey.pending()
    assert message.id == task_id and message.args == (1,) and message.kwargs == {"b": 5}
    record = journal.task(task_id)
    assert record["state"] == ENQUEUED and record["args"] == [1] and record["kwargs"] == {"b": 5}


def test_bad_input_enqueues_nothing(dispatcher, huey, journal):
    for call in (
        lambda: dispatcher.submit("add", ["x"]),
        lambda: dispatcher.submit("nope"),
        lambda: dispatcher.submit("add", [1], delay=-1),
        lambda: dispatcher.submit("add", [1], delay=float("nan")),
        lambda: dispatcher.submit("add", [1], eta="tomorrow"),
        lambda: dispatcher.submit("add", [1], priority=float("inf")),
        lambda: dispatcher.submit("add", [1], delay=1, eta="2030-01-01T00:00"),
    ):
        with pytest.raises(UserError):
            call()
    assert huey.pending_count() == 0
    assert journal.last_id() == 0


def test_delay_eta_and_priority(dispatcher, huey):
    dispatcher.submit("add", [1], delay=60)
    dispatcher.submit("add", [2], eta="2030-01-01T09:00")
    urgent = dispatcher.submit("add", [3], priority=50)
    pending = Inspector(huey, dispatcher.journal).pending()
    assert pending[0].id == urgent  # highest priority first
    etas = sorted(p.eta for p in pending if p.eta)
    assert len(etas) == 2
    assert etas[0] > dt.datetime.now(dt.UTC).replace(tzinfo=None)


def test_retry_replays_the_same_arguments(dispatcher, huey, journal):
    first = dispatcher.submit("paint", ["green"], {"when": "2026-11-25"})
    with pytest.raises(UserError, match="still pending"):
        dispatcher.retry(first)
    journal.append([NewEvent(EXECUTING, first), NewEvent(ERROR, first, data={"error": "x"})])
    again = dispatcher.retry(first)
    assert again != first
    message = next(m for m in huey.pending() if m.id == again)
    assert message.args[0].value == "green"
    assert message.kwargs == {"when": dt.date(2026, 11, 25)}
    assert journal.task(again)["retry_of"] == first


def test_retry_refuses_inexact_or_unknown(dispatcher, journal):
    journal.append(
        [NewEvent(COMPLETE, "x", "test.add", data={"args_preview": "<object>", "args_exact": 0})]
    )
    with pytest.raises(UserError, match="not recorded exactly"):
        dispatcher.retry("x")
    with pytest.raises(UserError, match="No task 'zzz' in the journal"):
        dispatcher.retry("zzz")


def test_revoke_and_restore(dispatcher, huey, journal):
    task_id = dispatcher.submit("add", [1])
    dispatcher.revoke(task_id)
    assert huey.is_revoked(task_id)
    dispatcher.restore(task_id)
    assert not huey.is_revoked(task_id)
    assert journal.task(task_id)["state"] == ENQUEUED
    with pytest.raises(UserError, match="is not revoked"):
        dispatcher.restore(task_id)
    journal.append([NewEvent(EXECUTING, task_id), NewEvent(COMPLETE, task_id)])
    with pytest.raises(UserError, match="already ended"):
        dispatcher.revoke(task_id)


def test_flush(dispatcher, huey, journal):
    ids = [dispatcher.submit("add", [i]) for i in range(3)]
    dispatcher.submit("add", [9], delay=600)
    dispatcher.flush()
    assert huey.pending_count() == 0
    assert journal.task(ids[0])["state"] == "flushed"


def test_locked_queue_says_busy_and_loses_nothing(tmp_path, journal):
    from tests.core.conftest import make_huey

    huey = make_huey(tmp_path / "locked.db", timeout=0.05)
    dispatcher = Dispatcher(huey, journal)
    dispatcher.submit("add", [1])
    blocker = sqlite3.connect(tmp_path / "locked.db", check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(QueueBusyError, match="busy"):
            dispatcher.submit("add", [2])
    finally:
        blocker.rollback()
        blocker.close()
    assert huey.pending_count() == 1
    # a lock released while the submission is retrying: it goes through, once
    blocker = sqlite3.connect(tmp_path / "locked.db", check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.2, blocker.rollback)
    release.start()
    try:
        dispatcher.submit("add", [3])
    finally:
        release.join()
        blocker.close()
    assert huey.pending_count() == 2
    huey.storage.close()


@settings(max_examples=100, deadline=None)
@given(
    delay=st.one_of(st.floats(), st.integers(), st.booleans(), st.text(max_size=5)),
    priority=st.one_of(st.none(), st.floats(), st.integers()),
)
def test_any_delay_or_priority_enqueues_exactly_or_is_refused(tmp_path_factory, delay, priority):
    from tests.core.conftest import make_huey

    huey = make_huey(tmp_path_factory.mktemp("d") / "q.db")
    try:
        dispatcher = Dispatcher(huey, None)
        try:
            dispatcher.submit("add", [1], delay=delay, priority=priority)
        except UserError:
            assert huey.pending_count() == 0
        else:
            assert huey.pending_count() == 1
            (message,) = huey.pending()
            assert message.priority == priority
    finally:
        huey.storage.close()


def test_run_now_clears_the_eta_of_a_delayed_or_scheduled_task(dispatcher, huey, journal):
    later = dispatcher.submit("add", [1], delay=3600)
    dispatcher.run_now(later)
    (message,) = huey.pending()
    assert message.id == later and message.eta is None
    # a task the consumer already moved to the schedule
    task = huey.test_tasks["add"].s(2)
    task.eta = dt.datetime(2030, 1, 1)
    huey.add_schedule(task)
    assert huey.scheduled_count() == 1
    dispatcher.run_now(task.id)
    assert huey.scheduled_count() == 0
    assert {m.id for m in huey.pending()} == {later, task.id}
    assert journal.task(task.id)["state"] == ENQUEUED
    assert journal.task(later)["eta"] is None  # run now: no time to wait for any more
    with pytest.raises(UserError, match="not waiting"):
        dispatcher.run_now("missing")
    with pytest.raises(UserError, match="nothing to bring forward"):
        dispatcher.run_now(later)  # now plain pending: refused, left as it is
    assert {m.id for m in huey.pending()} == {later, task.id}


def test_revoked_queued_tasks_are_found_in_one_read(dispatcher, huey, journal):
    from desktop_app.core.inspector import Inspector

    ids = [dispatcher.submit("add", [i]) for i in range(3)]
    dispatcher.revoke(ids[1])
    assert Inspector(huey, journal).revoked([*ids, "unknown", ""]) == {ids[1]}


def test_delayed_submission_is_journalled_as_scheduled_with_its_eta(dispatcher, journal):
    task_id = dispatcher.submit("add", [1], delay=600)
    record = journal.task(task_id)
    assert record["state"] == SCHEDULED and record["eta"] and record["enqueued_at"]


def test_restore_after_the_consumer_skipped_the_task_is_refused(dispatcher, journal):
    task_id = dispatcher.submit("add", [1])
    dispatcher.revoke(task_id)
    journal.append([NewEvent(REVOKED, task_id, "test.add", worker="Worker-1")])
    with pytest.raises(UserError, match="already skipped by the consumer"):
        dispatcher.restore(task_id)


def test_huge_numbers_are_refused_not_crashing(dispatcher, huey):
    with pytest.raises(UserError, match="too large"):
        dispatcher.submit("gather", [10**400])
    assert huey.pending_count() == 0


def _fleeting(huey):
    @huey.task(expires=60)
    def fleeting(n: int = 0) -> int:
        """Worth running within a minute only."""
        return n

    return fleeting


def test_a_submitted_task_with_expires_expires(huey, journal):
    _fleeting(huey)
    task_id = Dispatcher(huey, journal).submit("fleeting", [1])
    task = huey.dequeue()
    assert task.id == task_id and task.expires_resolved is not None
    seen = []
    huey.signal()(lambda signal, t, *a: seen.append((signal, t.id)))
    later = task.expires_resolved + dt.timedelta(seconds=1)
    assert huey.execute(task, timestamp=later) is None
    assert seen == [(S.SIGNAL_EXPIRED, task_id)]  # Huey's own verdict: expired, not run


def test_submission_stores_what_huey_enqueue_stores(huey, journal):
    fleeting = _fleeting(huey)
    ours = Dispatcher(huey, journal).submit("fleeting", [3], priority=4)
    huey.enqueue(fleeting.s(3, priority=4))
    a, b = (huey.storage.dequeue() for _ in range(2))
    mine, theirs = sorted(
        (huey.serializer.deserialize(x) for x in (a, b)), key=lambda m: m.id != ours
    )
    assert mine.id == ours
    assert mine._replace(id="", expires_resolved=None) == theirs._replace(
        id="", expires_resolved=None
    )
    assert abs(mine.expires_resolved - theirs.expires_resolved) < dt.timedelta(seconds=5)


def test_enqueued_signal_fires_once_per_submission_even_after_a_busy_wait(tmp_path, journal):
    from tests.core.conftest import make_huey

    huey = make_huey(tmp_path / "locked.db", timeout=0.05)
    fired = []
    huey.signal(S.SIGNAL_ENQUEUED)(lambda signal, task, *a: fired.append(task.id))
    dispatcher = Dispatcher(huey, journal)
    first = dispatcher.submit("add", [1])
    assert fired == [first]
    blocker = sqlite3.connect(tmp_path / "locked.db", check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(QueueBusyError):
            dispatcher.submit("add", [2])
        assert fired == [first]  # refused: not queued, no signal
        blocker.rollback()
        blocker.execute("BEGIN EXCLUSIVE")
        release = threading.Timer(0.2, blocker.rollback)
        release.start()
        try:
            second = dispatcher.submit("add", [3])  # waits, retries, goes through once
        finally:
            release.join()
    finally:
        blocker.close()
    assert fired == [first, second] and huey.pending_count() == 2
    huey.storage.close()


class NoPriorityStorage(MemoryStorage):
    """A storage without priorities that refuses one as RedisStorage does."""

    priority = False

    def enqueue(self, data, priority=None):
        if priority:
            raise NotImplementedError("Task priorities are not supported by this storage.")
        super().enqueue(data, priority)


def test_priority_on_a_storage_without_priorities_is_one_sentence(journal):
    huey = Huey("plain", storage_class=NoPriorityStorage)

    @huey.task()
    def add(a: int) -> int:
        return a

    @huey.task(priority=3)
    def urgent() -> None:
        """Declares a priority."""

    dispatcher = Dispatcher(huey, journal)
    with pytest.raises(UserError, match="has no priorities, so add cannot be queued with a pri"):
        dispatcher.submit("add", [1], priority=5)
    with pytest.raises(UserError, match="its declared priority 3"):
        dispatcher.submit("urgent")
    assert huey.pending_count() == 0 and journal.last_id() == 0
    assert dispatcher.submit("add", [1]) and huey.pending_count() == 1


def _while_decoding(monkeypatch, action):
    """Run ``action`` once, from inside run_now's first decode of a message."""
    from desktop_app.core import dispatcher as dispatcher_mod

    real, done = dispatcher_mod.decode, []

    def decode(serializer, data):
        if not done:
            done.append(action())
        return real(serializer, data)

    monkeypatch.setattr(dispatcher_mod, "decode", decode)
    return done


def test_run_now_reads_without_holding_the_write_lock(tmp_path, journal, monkeypatch):
    from tests.core.conftest import make_huey

    huey = make_huey(tmp_path / "q.db")
    other = make_huey(tmp_path / "q.db", timeout=0.01)  # another process's producer
    later = Dispatcher(huey, journal).submit("add", [1], delay=3600)
    done = _while_decoding(monkeypatch, lambda: other.test_tasks["add"](2).id)
    Dispatcher(huey, journal).run_now(later)  # the other write did not wait for it
    assert done and {m.id for m in huey.pending()} == {later, done[0]}
    for h in (huey, other):
        h.storage.close()


def test_run_now_looks_again_when_the_row_changed_after_the_read(tmp_path, journal, monkeypatch):
    from tests.core.conftest import make_huey

    huey = make_huey(tmp_path / "q.db")
    other = make_huey(tmp_path / "q.db")
    later = Dispatcher(huey, journal).submit("add", [1], delay=3600)
    # a worker elsewhere takes it between the read and the move
    _while_decoding(monkeypatch, other.storage.dequeue)
    with pytest.raises(UserError, match="not waiting"):
        Dispatcher(huey, journal).run_now(later)
    assert huey.pending_count() == 0  # nothing put back twice, nothing invented
    for h in (huey, other):
        h.storage.close()


def test_a_batch_writes_its_messages_at_once_and_journals_them_after(dispatcher, huey, journal):
    with dispatcher.batch():
        first = dispatcher.submit("add", [1])
        second = dispatcher.submit("add", [2])
        assert huey.pending_count() == 0 and journal.task(first) is None  # held
    assert [m.id for m in huey.pending()] == [first, second]
    assert journal.task(second)["state"] == ENQUEUED


def test_a_batch_whose_write_fails_journals_none_of_its_messages(dispatcher, huey, journal):
    def broken(*_args, **_kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    real = huey.storage.db
    huey.storage.db = broken
    try:
        with pytest.raises(UserError, match="reported an I/O error"), dispatcher.batch():
            task_id = dispatcher.submit("add", [1])
    finally:
        huey.storage.db = real
    assert huey.pending_count() == 0 and journal.task(task_id) is None
