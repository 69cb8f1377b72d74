"""Every queue reader reads what Huey stores, in the order Huey's consumer takes it."""

from __future__ import annotations

import datetime as dt

import pytest
from huey import MemoryHuey, PriorityRedisHuey, RedisExpireHuey, RedisHuey, SqliteHuey

from desktop_app.core.backends.reader import QueueReader, SqliteQueueReader, reader_for
from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import SqliteJournal
from tests import redis_server as _redis

redis_server = _redis.redis_server
redis_url = _redis.redis_url

KINDS = ["sqlite", "memory", "redis", "redis-priority", "redis-expire"]


@pytest.fixture(params=KINDS)
def huey(request, tmp_path):
    kind = request.param
    if kind == "sqlite":
        made = SqliteHuey("reader", filename=str(tmp_path / "q.db"))
    elif kind == "memory":
        made = MemoryHuey("reader")
    else:
        url = request.getfixturevalue("redis_url")
        cls = {"redis": RedisHuey, "redis-priority": PriorityRedisHuey}.get(kind, RedisExpireHuey)
        made = cls("reader", url=url)

    @made.task()
    def add(a, b):
        return a + b

    made.test_add = add
    yield made
    if kind == "sqlite":
        made.storage.close()
    elif kind.startswith("redis"):
        made.storage.pool.disconnect()


def ids(huey, blobs):
    return [huey.deserialize_task(b).id for b in blobs]


def test_the_reader_matches_the_storage(huey):
    kind = type(huey.storage).__name__
    reader = reader_for(huey)
    if kind == "SqliteStorage":
        assert isinstance(reader, SqliteQueueReader)
    elif kind == "MemoryStorage":
        assert type(reader) is QueueReader
    else:
        assert type(reader).__name__ == "RedisQueueReader"


def test_pages_follow_the_consumers_order_and_counts_are_exact(huey):
    priority = huey.storage.priority
    queued = []
    for n in range(7):
        p = n % 3 if priority else None
        queued.append(huey.test_add.s(n, n, priority=p))
    for task in queued:
        huey.enqueue(task)
    reader = reader_for(huey)
    assert reader.pending_count() == 7
    taken = []
    for offset in range(0, 7, 3):
        taken += ids(huey, reader.pending_page(offset, 3))
    # what the consumer will take, in its order, without taking anything
    expected = ids(huey, list(huey.storage.enqueued_items()))
    assert taken == expected
    assert reader.pending_count() == 7
    real_order = []
    while (data := huey.storage.dequeue()) is not None:
        real_order.append(huey.deserialize_task(data).id)
    assert taken == real_order


def test_the_schedule_is_read_soonest_first(huey):
    now = dt.datetime.now()
    made = []
    for minutes in (30, 10, 20):
        task = huey.test_add.s(minutes, 0)
        task.eta = now + dt.timedelta(minutes=minutes)
        huey.add_schedule(task)
        made.append((minutes, task.id))
    reader = reader_for(huey)
    assert reader.scheduled_count() == 3
    assert ids(huey, reader.scheduled_page(0, 2) + reader.scheduled_page(2, 2)) == [
        task_id for _, task_id in sorted(made)
    ]


def test_results_flags_and_prefixes(huey):
    done = huey.test_add.s(1, 2)
    huey.execute(done)
    other = huey.test_add.s(3, 4)
    huey.execute(other)
    revoked = huey.test_add.s(5, 6)
    huey.revoke_by_id(revoked.id)
    reader = reader_for(huey)
    if isinstance(reader, SqliteQueueReader) or isinstance(huey, RedisExpireHuey):
        assert reader.results_count() == 2  # revoke flags left out
    else:
        assert reader.results_count() in (2, 3)  # Huey's own count: flags included
    assert huey.serializer.deserialize(reader.peek(done.id)) == 3
    assert reader.peek("nothing") is None
    found = reader.peek_many([done.id, "nothing", other.id])
    assert set(found) == {done.id, other.id}
    assert reader.revoked([done.id, revoked.id]) == {revoked.id}
    assert reader.result_ids(done.id[:6], 5) >= {done.id}
    assert revoked.id not in reader.result_ids(revoked.id[:6], 5)
    # nothing was consumed by reading
    assert huey.serializer.deserialize(reader.peek(done.id)) == 3


def test_the_inspector_pages_any_queue_without_consuming_it(huey, tmp_path):
    for n in range(5):
        huey.test_add(n, 1)
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    inspector = Inspector(huey, journal, "t")
    previews = [r.args_preview for r in inspector.pending(0, 5)]
    assert previews == [f"{n}, 1" for n in range(5)]  # first in, first out
    assert [r.args_preview for r in inspector.pending(1, 2)] == previews[1:3]
    assert all(r.name and r.name.endswith("add") for r in inspector.pending(0, 5))
    assert inspector.counts()["pending"] == 5
    journal.close()
