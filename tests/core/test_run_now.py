"""Run now, on every storage that can move a message atomically (SQLite, Redis list and
priority queues): the ETA is cleared, and a consumer's scheduler racing the move never
makes a task run twice or vanish."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from huey import MemoryHuey, PriorityRedisHuey, RedisHuey

from desktop_app.core.backends import waiting_for
from desktop_app.core.backends.reader import reader_for
from desktop_app.core.backends.redis.waiting import RedisWaiting
from desktop_app.core.backends.waiting import SqliteWaiting
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.errors import UserError
from desktop_app.core.journal import SqliteJournal
from desktop_app.core.safe_decode import decode_message
from desktop_app.core.states import ENQUEUED
from tests import redis_server as _redis
from tests.core.conftest import make_huey

redis_server = _redis.redis_server
redis_url = _redis.redis_url


@pytest.fixture(params=["sqlite", "redis", "redis-priority"])
def huey(request, tmp_path):
    if request.param == "sqlite":
        made = make_huey(tmp_path / "q.db")
        yield made
        made.storage.close()
        return
    url = request.getfixturevalue("redis_url")
    made = (PriorityRedisHuey if request.param == "redis-priority" else RedisHuey)("t", url=url)

    @made.task()
    def add(a: int, b: int = 2) -> int:
        return a + b

    made.test_tasks = {"add": add}
    yield made
    made.storage.pool.disconnect()


@pytest.fixture
def journal(tmp_path):
    j = SqliteJournal(tmp_path / "journal.sqlite")
    yield j
    j.close()


def queued_ids(huey) -> list[str]:
    """Every message id in the queue, read without taking any."""
    reader = reader_for(huey)
    blobs = reader.pending_page(0, reader.pending_count())
    return [decode_message(huey.serializer, b).id for b in blobs]


def test_the_mover_is_chosen_from_the_storage(huey):
    mover = waiting_for(huey)
    if isinstance(huey, RedisHuey):
        assert isinstance(mover, RedisWaiting)
    else:
        assert isinstance(mover, SqliteWaiting)


def test_run_now_clears_the_eta_in_the_queue_and_in_the_schedule(huey, journal):
    dispatcher = Dispatcher(huey, journal)
    first = dispatcher.submit("add", [1])
    later = dispatcher.submit("add", [2], delay=3600)  # in the queue, with an ETA
    task = huey.test_tasks["add"].s(3)
    task.eta = dt.datetime(2030, 1, 1)
    huey.add_schedule(task)  # where a worker puts it when it takes it early
    dispatcher.run_now(later)
    dispatcher.run_now(task.id)
    assert huey.scheduled_count() == 0
    assert queued_ids(huey) == [first, later, task.id]  # each to the back of the queue
    assert all(m.eta is None for m in huey.pending() if m.id != first)
    assert journal.task(task.id)["state"] == ENQUEUED and journal.task(later)["eta"] is None
    with pytest.raises(UserError, match="nothing to bring forward"):
        dispatcher.run_now(later)
    with pytest.raises(UserError, match="not waiting"):
        dispatcher.run_now("missing")
    # what the consumer takes: the task that was first, then the two brought forward
    taken = [huey.dequeue().id for _ in range(3)]
    assert taken == [first, later, task.id] and huey.dequeue() is None


def test_a_priority_brought_forward_keeps_its_rank(redis_url, journal):
    huey = PriorityRedisHuey("t", url=redis_url)

    @huey.task()
    def add(a: int) -> int:
        return a

    dispatcher = Dispatcher(huey, journal)
    low = dispatcher.submit("add", [1], priority=1)
    urgent = dispatcher.submit("add", [2], delay=3600, priority=9)
    dispatcher.run_now(urgent)
    assert [huey.dequeue().id for _ in range(2)] == [urgent, low]
    huey.storage.pool.disconnect()


def test_a_racing_scheduler_never_makes_a_task_run_twice(huey, journal):
    """The consumer's scheduler moves due tasks to the queue while run_now moves the same
    ones: every task ends in the queue exactly once."""
    past = dt.datetime.now() - dt.timedelta(seconds=1)
    ids = []
    for n in range(60):
        task = huey.test_tasks["add"].s(n)
        task.eta = past
        huey.add_schedule(task)
        ids.append(task.id)
    stop = threading.Event()
    scheduler = huey  # used from another thread, as a consumer's scheduler does

    def schedule() -> None:  # what huey's Scheduler.loop does, as fast as it can
        while not stop.is_set():
            for due in scheduler.read_schedule(dt.datetime.now() + dt.timedelta(days=1)):
                scheduler.enqueue(due)

    thread = threading.Thread(target=schedule)
    dispatcher = Dispatcher(huey, journal)
    outcomes = {"moved": 0, "scheduler first": 0}
    thread.start()
    try:
        for task_id in ids:
            try:
                dispatcher.run_now(task_id)
                outcomes["moved"] += 1
            except UserError as exc:  # the scheduler moved it first: nothing to bring forward
                assert "nothing to bring forward" in str(exc) or "not waiting" in str(exc)
                outcomes["scheduler first"] += 1
    finally:
        stop.set()
        thread.join(10)
    found = queued_ids(huey)
    assert sorted(found) == sorted(ids), outcomes  # each exactly once, none lost
    assert huey.scheduled_count() == 0
    print(outcomes)


def test_a_storage_that_cannot_move_atomically_refuses_in_a_sentence(journal):
    huey = MemoryHuey("m")

    @huey.task()
    def add(a: int) -> int:
        return a

    later = Dispatcher(huey, journal).submit("add", [1], delay=60)
    with pytest.raises(UserError, match="needs a SQLite or Redis queue, not MemoryStorage"):
        Dispatcher(huey, journal).run_now(later)
    assert huey.pending_count() == 1
