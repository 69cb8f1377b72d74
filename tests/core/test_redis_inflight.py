"""The reliable take on Redis: the message moves into a per-worker processing list with
its take recorded, is released on every outcome, kept when it cannot run, and recovered
exactly once (re-run when it declared retries) once its consumer's heartbeat expired."""

from __future__ import annotations

import os
import threading
import time

import pytest
from huey import PriorityRedisHuey, RedisHuey

from desktop_app.core import liveness
from desktop_app.core.backends import inflight_for, inflight_store, journal_for
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.inflight import UnrunnableMessage, inflight_count, recover
from desktop_app.core.journal import NewEvent
from desktop_app.core.kept import UNRUNNABLE_TABLE, find_kept, requeue
from desktop_app.core.liveness import Liveness
from desktop_app.core.states import COMPLETE, ERROR, INTERRUPTED, RESTORED
from tests import redis_server as _redis
from tests.helpers import wait_until

redis_server = _redis.redis_server
redis_url = _redis.redis_url

HOST = liveness.host_name()


def make(kind, url, name="inf"):
    huey = kind(name, url=url)

    @huey.task(retries=1)
    def job(n):
        return n

    @huey.task()
    def plain(n):
        return n

    return huey, job, plain


@pytest.fixture
def app(redis_url):
    huey, job, plain = make(RedisHuey, redis_url)
    journal = journal_for(huey)
    yield huey, job, plain, journal
    journal.close()
    huey.storage.pool.disconnect()


def consumer_id(host: str = HOST) -> str:
    return f"{host}:{os.getpid()}:{int(time.time() * 1000)}"


def tracker(huey, journal, cid=None, host=HOST):
    cid = cid or consumer_id(host)
    journal.register_consumer(cid, host=host, pid=os.getpid(), target="t", worker_type="thread")
    events = []
    t = inflight_for(huey, cid, target="tests", report=events.append)
    t.install()
    t.events = events
    return t


def lists(huey):
    """Every processing list's entries, by worker."""
    conn = huey.storage.conn
    prefix = f"huey-desk:{{{huey.name}}}:"
    out = {}
    for member in conn.smembers(prefix + "inflight"):
        out[member.decode()] = conn.lrange(prefix + "inflight:" + member.decode(), 0, -1)
    return out


def blocked(huey) -> bool:
    """True once a client of this server is blocked in BLMOVE."""
    return any(c.get("cmd") == "blmove" for c in huey.storage.conn.client_list())


def meta(huey, member):
    raw = huey.storage.conn.hgetall(f"huey-desk:{{{huey.name}}}:inflight-meta:{member}")
    return {k.decode(): v.decode() for k, v in raw.items()}


def test_take_records_the_take_and_finish_releases_it_with_the_next_take(app):
    huey, job, _, journal = app
    t = tracker(huey, journal)
    try:
        first, second = job(1), job(2)
        before = time.time()
        task = huey.dequeue()
        assert task.id == first.id and huey.storage.queue_size() == 1
        [(member, entries)] = lists(huey).items()
        assert member == f"{t.consumer_id}:{threading.current_thread().name}"
        assert len(entries) == 1
        info = meta(huey, member)
        assert info["consumer"] == t.consumer_id and int(info["pid"]) == os.getpid()
        assert before <= float(info["taken_at"]) <= time.time()
        assert inflight_count(huey) == 1
        t.finish()
        assert huey.dequeue().id == second.id  # the same script dropped the finished one
        assert [len(e) for e in lists(huey).values()] == [1]
        t.finish()
        t0 = time.monotonic()
        assert huey.dequeue() is None  # empty: blocked in BLMOVE for up to a second
        assert 0.5 < time.monotonic() - t0 < 3
        assert inflight_count(huey) == 0
        t.release()
        assert lists(huey) == {}  # a stopping worker leaves no registration behind
    finally:
        t.uninstall()


def test_abandon_keeps_the_entry_for_recovery(app):
    huey, job, _, journal = app
    t = tracker(huey, journal)
    try:
        job(1)
        huey.dequeue()
        t.abandon()
        t.release()
        assert inflight_count(huey) == 1
    finally:
        t.uninstall()


def test_a_blocking_take_wakes_at_once_when_a_task_is_enqueued(app):
    huey, job, _, journal = app
    t = tracker(huey, journal)
    try:
        got = {}

        def take():
            got["task"] = huey.dequeue()
            got["at"] = time.monotonic()

        thread = threading.Thread(target=take)
        thread.start()
        wait_until(lambda: blocked(huey), what="the take to block in BLMOVE")
        enqueued = time.monotonic()
        result = job(5)
        thread.join(5)
        assert got["task"].id == result.id
        assert got["at"] - enqueued < 0.1
        [(member, entries)] = lists(huey).items()
        assert len(entries) == 1 and "taken_at" in meta(huey, member)
    finally:
        t.uninstall()


def tracking(huey) -> list[dict]:
    """The clients of this server that are told of writes to a key."""
    return [c for c in huey.storage.conn.client_list() if "t" in c.get("flags", "")]


def test_an_idle_priority_take_wakes_at_once_and_stops_watching_when_busy(redis_url):
    huey, job, _ = make(PriorityRedisHuey, redis_url, "priowake")
    journal = journal_for(huey)
    t = tracker(huey, journal)
    try:
        got = {}

        def take():
            got["task"] = huey.dequeue()
            got["at"] = time.monotonic()

        thread = threading.Thread(target=take)
        thread.start()
        wait_until(lambda: tracking(huey), what="the idle take to watch the queue")
        assert not any(c.get("cmd") == "bzpopmin" for c in huey.storage.conn.client_list())
        enqueued = time.monotonic()
        result = job(7, priority=2)
        thread.join(5)
        assert got["task"].id == result.id
        assert got["at"] - enqueued < 0.1
        [(member, entries)] = lists(huey).items()
        assert len(entries) == 1 and "taken_at" in meta(huey, member)  # one script: both
        wait_until(lambda: not tracking(huey), what="the busy worker to stop watching")
    finally:
        t.uninstall()
        journal.close()
        huey.storage.pool.disconnect()


def test_priority_queue_takes_in_hueys_own_order(redis_url):
    ours, job, _ = make(PriorityRedisHuey, redis_url, "prio-ours")
    stock, sjob, _ = make(PriorityRedisHuey, redis_url, "prio-stock")
    journal = journal_for(ours)
    t = tracker(ours, journal)
    try:
        priorities = [0, 5, None, 5, 10, 1, 10, 0]
        for i, p in enumerate(priorities):
            ours.enqueue(job.s(i, priority=p))
            stock.enqueue(sjob.s(i, priority=p))
        mine, theirs = [], []
        for _ in priorities:
            mine.append(ours.dequeue().args[0])
            t.finish()
            theirs.append(stock.dequeue().args[0])
        assert mine == theirs
        assert mine[:2] == [4, 6] and mine[-1] in (2, 7, 0)
        assert ours.dequeue() is None  # blocked in BZPOPMIN, then empty
        # an abandoned priority take is re-queued in its old place, by its score
        ours.enqueue(job.s(99, priority=3))
        ours.dequeue()
        t.abandon()
        t.release()
        assert inflight_count(ours) == 1
    finally:
        t.uninstall()
        journal.close()
        ours.storage.pool.disconnect()
        stock.storage.pool.disconnect()


def test_an_unregistered_task_is_kept_journalled_and_retried_by_dispatcher(redis_url):
    producer, job, _ = make(RedisHuey, redis_url, "shared")
    bare = RedisHuey("shared", url=redis_url)  # a consumer that registered nothing
    journal = journal_for(bare)
    t = tracker(bare, journal)
    try:
        result = job(7)
        with pytest.raises(UnrunnableMessage, match="is not registered"):
            bare.dequeue()
        [event] = t.events
        assert event.kind == ERROR and event.task_id == result.id and event.data["kept"]
        assert inflight_count(bare) == 0 and bare.storage.queue_size() == 0
        kept = find_kept(bare.storage, result.id)
        assert kept.table == UNRUNNABLE_TABLE and kept.task_id == result.id
        journal.append([event])
        # the one retry rule, as the window and `huey-desk retry` call it
        assert Dispatcher(producer, journal).retry(result.id) == result.id
        assert not requeue(producer.storage, kept.table, kept.row_id)  # exactly once
        assert producer.dequeue().id == result.id  # the original bytes, the same id
        assert find_kept(bare.storage, result.id) is None
    finally:
        t.uninstall()
        journal.close()
        for h in (producer, bare):
            h.storage.pool.disconnect()


def test_a_remote_consumer_is_gone_only_when_its_heartbeat_key_expired(app):
    huey, _, _, journal = app
    cid = consumer_id("far-away")
    journal.register_consumer(cid, host="far-away", pid=1, target="t", worker_type="thread")
    journal.beat(cid, [])
    assert Liveness(journal, HOST).consumer_gone(cid) is None
    assert journal.heartbeat_expired(cid) is False
    huey.storage.conn.delete(f"huey-desk:{{{huey.name}}}:alive:{cid}")  # the TTL ran out
    assert journal.heartbeat_expired(cid) is True
    assert "stopped beating" in Liveness(journal, HOST).consumer_gone(cid)


def test_a_dead_hosts_take_is_recovered_once_and_rerun(app):
    huey, job, plain, journal = app
    far = consumer_id("far-away")
    t = tracker(huey, journal, far, host="far-away")
    retried, once = job(1), plain(2)
    huey.dequeue()  # taken on the far host, never started there
    t.uninstall()
    # a second worker thread of the far consumer takes the other one
    t2 = tracker(huey, journal, far, host="far-away")
    holder = threading.Thread(target=huey.dequeue, name="Worker-2")
    holder.start()
    holder.join(5)
    t2.uninstall()
    assert inflight_count(huey) == 2
    assert recover(huey, journal, rerun=True).interrupted == []  # its heartbeat lives
    huey.storage.conn.delete(f"huey-desk:{{{huey.name}}}:alive:{far}")
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(recover(huey, journal, rerun=True)))
        for _ in range(3)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    items = [i for r in reports for i in r.interrupted]
    assert sorted(i.task_id for i in items) == sorted([retried.id, once.id])  # once each
    assert all("far-away stopped beating" in i.error for i in items)
    by_id = {i.task_id: i for i in items}
    assert by_id[retried.id].rerun and by_id[once.id].kept
    assert inflight_count(huey) == 0 and lists(huey) == {}
    assert huey.storage.queue_size() == 1  # the one that declared retries, back on the queue
    kinds = [e.kind for e in journal.events_for(retried.id)]
    assert kinds == [INTERRUPTED, RESTORED]
    assert journal.task(once.id)["state"] == INTERRUPTED
    assert [k["task_id"] for k in inflight_store(huey).kept_interrupted(10)] == [once.id]
    # the kept one runs again through the one retry rule's kept-message path
    kept = find_kept(huey.storage, once.id)
    assert requeue(huey.storage, kept.table, kept.row_id)
    assert huey.storage.queue_size() == 2


def test_a_take_the_journal_shows_complete_is_dropped_not_rerun(app):
    huey, job, _, journal = app
    far = consumer_id("far-away")
    t = tracker(huey, journal, far, host="far-away")
    result = job(1)
    task = huey.dequeue()
    t.uninstall()
    journal.append([NewEvent(COMPLETE, task.id, "job", consumer=far, worker="MainThread")])
    huey.storage.conn.delete(f"huey-desk:{{{huey.name}}}:alive:{far}")
    report = recover(huey, journal, rerun=True)
    assert report.interrupted == [] and report.ended == 1
    assert huey.storage.queue_size() == 0 and inflight_count(huey) == 0
    assert journal.task(result.id)["state"] == COMPLETE
