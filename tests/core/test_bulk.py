"""Bulk retry and revoke on SQLite and Redis: filters, chunks, exactly once, cancel, refusals."""

from __future__ import annotations

import time

import pytest
from huey import RedisHuey

from desktop_app.core.bulk import (
    RETRY,
    REVOKE,
    BulkAction,
    Selection,
    check_state,
    parse_when,
)
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.errors import UserError
from desktop_app.core.journal import NewEvent
from desktop_app.core.states import COMPLETE, ENQUEUED, ERROR, EXECUTING, REVOKED
from tests import redis_server as _redis
from tests.helpers import failed_tasks as failed
from tests.helpers import task_name as full_name

redis_server = _redis.redis_server
redis_url = _redis.redis_url


@pytest.fixture(params=["sqlite", "redis"])
def desk(request, huey, journal):
    """A Huey with tasks ``add`` and ``boom``, its journal and a dispatcher, per backend."""
    if request.param == "sqlite":
        yield huey, journal, Dispatcher(huey, journal)
        return
    from desktop_app.core.backends.redis.journal import RedisJournal

    url = request.getfixturevalue("redis_url")
    rhuey = RedisHuey("bulk", url=url)

    @rhuey.task()
    def add(a: int, b: int = 2) -> int:
        return a + b

    @rhuey.task()
    def boom(message: str = "boom") -> None:
        raise RuntimeError(message)

    rjournal = RedisJournal(rhuey.storage.pool, name="bulk")
    yield rhuey, rjournal, Dispatcher(rhuey, rjournal)
    rjournal.close()
    rhuey.storage.pool.disconnect()


def queued_ids(huey) -> list[str]:
    return [m.id for m in huey.pending()]


def test_parse_when_takes_durations_and_times():
    now = 1_000_000.0
    assert parse_when("1h", now) == now - 3600
    assert parse_when("1h30m", now) == now - 5400
    assert parse_when("90s", now) == now - 90
    assert parse_when(" 2D ", now) == now - 2 * 86400
    assert parse_when("2026-11-25T14:30+00:00") == 1795617000.0
    for bad in ("1x", "", "h", "-1h", "yesterday"):
        with pytest.raises(UserError, match="neither a duration nor a time"):
            parse_when(bad, now)


def test_a_state_must_be_one_the_action_takes():
    assert check_state(RETRY, "failed") == ERROR
    assert check_state(REVOKE, "pending") == ENQUEUED
    with pytest.raises(UserError, match="not a state tasks can be retried"):
        check_state(RETRY, "pending")
    with pytest.raises(UserError, match="one of: pending"):
        check_state(REVOKE, "failed")


def test_a_filter_selects_by_state_task_time_and_text(desk):
    huey, journal, dispatcher = desk
    add, boom = full_name(huey, "add"), full_name(huey, "boom")
    now = time.time()
    failed(journal, add, 5, now - 7200)  # two hours ago
    recent = failed(journal, add, 4, now - 60, error="disk full", start=100)
    failed(journal, boom, 3, now - 60)
    journal.append([NewEvent(COMPLETE, "done-1", add, ts=now - 30)])

    def count(**kw):
        return BulkAction(dispatcher, RETRY, Selection(**kw)).count()

    assert count(state=ERROR) == 12
    assert count(state=ERROR, task_name=add) == 9
    assert count(state=ERROR, task_name=add, since=now - 3600) == 4
    assert count(state=ERROR, until=now - 3600) == 5
    assert count(state=ERROR, text="disk") == 4
    assert count() == 13  # every ended task
    assert count(task_ids=(recent[0], recent[0], "done-1")) == 2
    preview = BulkAction(dispatcher, RETRY, Selection(state=ERROR, text="disk")).preview(2)
    assert [r["task_id"] for r in preview] == recent[:2]
    assert queued_ids(huey) == []  # counting and previewing enqueue nothing


def test_bulk_retry_enqueues_each_task_exactly_once_when_run_twice(desk):
    huey, journal, dispatcher = desk
    add = full_name(huey, "add")
    ids = failed(journal, add, 23, time.time() - 10)
    heard = []
    first = BulkAction(dispatcher, RETRY, Selection(state=ERROR, task_name=add), chunk=5)
    result = first.run(on_progress=lambda p: heard.append((p.done, p.total)))
    assert (result.acted, result.skipped, result.refused) == (23, 0, 0)
    assert heard[0] == (5, 23) and heard[-1] == (23, 23)  # a report per chunk
    assert len(queued_ids(huey)) == 23
    links = journal.retries_of(ids)
    assert sorted(links) == ids and sorted(links.values()) == sorted(queued_ids(huey))
    again = BulkAction(dispatcher, RETRY, Selection(state=ERROR, task_name=add), chunk=5).run()
    assert (again.acted, again.skipped) == (0, 23)
    assert "23 already retried" in again.summary()
    assert len(queued_ids(huey)) == 23  # no duplicates
    messages = {m.id: m for m in huey.pending()}
    assert sorted(messages[links[i]].args[0] for i in ids) == list(range(23))


def test_cancel_between_chunks_leaves_a_consistent_state_and_a_rerun_finishes(desk):
    huey, journal, dispatcher = desk
    ids = failed(journal, full_name(huey, "add"), 20, time.time() - 10)
    action = BulkAction(dispatcher, RETRY, Selection(state=ERROR), chunk=6)
    chunks = []
    result = action.run(
        on_progress=lambda p: chunks.append(p.done), cancelled=lambda: bool(chunks)
    )
    assert result.cancelled and result.acted == 6 and "cancelled after 6" in result.summary()
    # what was enqueued is journalled as the retry of exactly those tasks
    assert len(queued_ids(huey)) == 6
    assert sorted(journal.retries_of(ids).values()) == sorted(queued_ids(huey))
    rest = BulkAction(dispatcher, RETRY, Selection(state=ERROR), chunk=6).run()
    assert (rest.acted, rest.skipped) == (14, 6)
    assert len(queued_ids(huey)) == 20 and len(journal.retries_of(ids)) == 20


def test_the_selection_is_fixed_when_counted(desk):
    """Tasks that fail after the count, such as the retries themselves, are not taken in."""
    huey, journal, dispatcher = desk
    add = full_name(huey, "add")
    failed(journal, add, 4, time.time() - 10)
    action = BulkAction(dispatcher, RETRY, Selection(state=ERROR), chunk=3)
    total = action.count()
    failed(journal, add, 2, time.time() - 5, start=50)  # fails meanwhile
    result = action.run(total=total)
    assert (result.total, result.acted) == (4, 4)


def test_refusals_are_counted_with_their_reason(desk):
    huey, journal, dispatcher = desk
    add = full_name(huey, "add")
    failed(journal, add, 2, time.time() - 10)
    journal.append(
        [NewEvent(ERROR, "opaque", add, data={"args_preview": "<object>", "args_exact": 0})]
    )
    result = BulkAction(dispatcher, RETRY, Selection(state=ERROR)).run()
    assert (result.acted, result.refused) == (2, 1)
    assert result.reasons[0][0] == "opaque" and "not recorded exactly" in result.reasons[0][1]
    unknown = BulkAction(dispatcher, RETRY, Selection(task_ids=("nope-1",))).run()
    assert unknown.refused == 1 and "No task" in unknown.reasons[0][1]


def test_bulk_revoke_revokes_what_waits(desk):
    huey, journal, dispatcher = desk
    add = full_name(huey, "add")
    waiting = [dispatcher.submit(add, [i]) for i in range(7)]
    failed(journal, add, 2, time.time() - 10)
    result = BulkAction(dispatcher, REVOKE, Selection(state=ENQUEUED), chunk=3).run()
    assert (result.total, result.acted) == (7, 7)
    assert all(huey.is_revoked(t) for t in waiting)
    assert {journal.task(t)["state"] for t in waiting} == {REVOKED}
    again = BulkAction(dispatcher, REVOKE, Selection(state=ENQUEUED)).run()
    assert again.total == 0 and again.acted == 0


def test_bulk_retry_by_ids_goes_through_the_single_rule(desk):
    huey, journal, dispatcher = desk
    add = full_name(huey, "add")
    pending = dispatcher.submit(add, [1])
    ids = failed(journal, add, 3, time.time() - 10)
    result = BulkAction(dispatcher, RETRY, Selection(task_ids=(*ids, pending))).run()
    assert (result.acted, result.refused) == (3, 1)
    assert "still pending" in result.reasons[0][1]


def test_a_priority_redis_queue_gets_the_chunk_in_order_with_priorities(redis_url):
    from huey import PriorityRedisHuey

    from desktop_app.core.backends.redis.journal import RedisJournal

    huey = PriorityRedisHuey("bulk-prio", url=redis_url)

    @huey.task(priority=5)
    def urgent(n: int) -> None:
        pass

    journal = RedisJournal(huey.storage.pool, name="bulk-prio")
    try:
        dispatcher = Dispatcher(huey, journal)
        ids = failed(journal, full_name(huey, "urgent"), 4, time.time() - 10)
        result = BulkAction(dispatcher, RETRY, Selection(state=ERROR)).run()
        assert result.acted == 4
        pending = huey.pending()
        assert [m.args[0] for m in pending] == [0, 1, 2, 3]  # the order they failed in
        assert {m.priority for m in pending} == {5}
        assert sorted(journal.retries_of(ids).values()) == sorted(m.id for m in pending)
    finally:
        journal.close()
        huey.storage.pool.disconnect()


def test_an_interrupted_task_with_a_kept_message_is_re_run_as_itself_once(huey, journal):
    """The single rule's kept-message path, looked for once per chunk (SQLite)."""
    from desktop_app.core.kept import INTERRUPTED_TABLE, ensure_tables
    from desktop_app.core.states import INTERRUPTED

    add = full_name(huey, "add")
    task = huey.test_tasks["add"].s(4, 5)
    ensure_tables(huey.storage)
    huey.storage.sql(
        f"INSERT INTO {INTERRUPTED_TABLE} (queue, task_id, task_name, data, interrupted_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (huey.storage.name, task.id, add, huey.serialize_task(task), time.time()),
        commit=True,
    )
    journal.append([NewEvent(EXECUTING, task.id, add), NewEvent(INTERRUPTED, task.id, add)])
    ids = failed(journal, add, 3, time.time() - 10)
    dispatcher = Dispatcher(huey, journal)
    result = BulkAction(dispatcher, RETRY, Selection()).run()
    assert result.acted == 4
    queued = queued_ids(huey)
    assert task.id in queued and len(queued) == 4  # the same id, and three new tasks
    assert journal.task(task.id)["state"] == ENQUEUED
    again = BulkAction(dispatcher, RETRY, Selection()).run()
    assert (again.acted, again.skipped) == (0, 3) and len(queued_ids(huey)) == 4
    assert sorted(journal.retries_of(ids)) == ids
