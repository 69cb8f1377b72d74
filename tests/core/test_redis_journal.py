"""What is Redis's own: backend choice, keys, liveness by expiry, atomic batches, and
the same summaries as SqliteJournal for the same events (a differential check)."""

from __future__ import annotations

import collections
import importlib
import random
import sys
import threading
import time

import pytest
from huey import MemoryHuey, PriorityRedisHuey, RedisExpireHuey, RedisHuey, SqliteHuey

from desktop_app.core import paths
from desktop_app.core.backends import journal_for
from desktop_app.core.errors import UserError
from desktop_app.core.journal import (
    COMPLETE,
    ENQUEUED,
    EXECUTING,
    FLUSHED,
    PROGRESS,
    STALE_AFTER_S,
    STATE_OF,
    NewEvent,
    SqliteJournal,
)
from tests import redis_server as _redis

# The real server's fixtures, for the tests here.
redis_server = _redis.redis_server
redis_url = _redis.redis_url

MODULE = "desktop_app.core.backends.redis.journal"


@pytest.fixture
def RedisJournal():
    return importlib.import_module(MODULE).RedisJournal


@pytest.fixture
def journal(redis_url, RedisJournal):
    j = RedisJournal(url=redis_url, name="app")
    yield j
    j.close()


# -- choosing the backend ----------------------------------------------------------------
@pytest.mark.parametrize("kind", [RedisHuey, PriorityRedisHuey, RedisExpireHuey])
def test_a_redis_huey_gets_a_redis_journal_on_its_own_pool(redis_url, RedisJournal, kind):
    huey = kind("shop", url=redis_url)
    try:
        journal = journal_for(huey)
        assert isinstance(journal, RedisJournal)
        assert journal.client.connection_pool is huey.storage.pool
        assert journal.prefix == "huey-desk:{shop}:"
        journal.append([NewEvent(ENQUEUED, "t1", "app.job")])
        assert journal.task("t1")["state"] == ENQUEUED
        journal.close()
        assert huey.storage.conn.ping()  # the project's pool is left open
    finally:
        huey.storage.pool.disconnect()


def test_other_storages_get_a_sqlite_journal(tmp_path):
    huey = SqliteHuey("local", filename=str(tmp_path / "q.db"))
    journal = journal_for(huey)
    assert isinstance(journal, SqliteJournal)
    assert journal.path == paths.journal_path_for(huey)
    override = journal_for(huey, path_override=tmp_path / "elsewhere.sqlite")
    assert override.path == tmp_path / "elsewhere.sqlite"
    memory = journal_for(MemoryHuey("mem"))
    assert memory.path == paths.journal_path_for(MemoryHuey("mem"))
    huey.storage.close()


def test_without_the_redis_package_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis raises ImportError
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    with pytest.raises(UserError) as raised:
        importlib.import_module(MODULE)
    assert str(raised.value) == (
        "Redis support needs the redis package: pip install 'huey-desk[redis]'"
    )


def test_location_names_the_server_and_prefix_without_the_password(RedisJournal):
    journal = RedisJournal(url="redis://ops:s3cret@example.invalid:6380/3", name="shop")
    assert journal.location == "redis://ops@example.invalid:6380/3 (keys huey-desk:{shop}:*)"
    assert "s3cret" not in journal.location
    journal.close()


def test_unix_socket_location(journal, redis_server):
    assert journal.location == f"unix://{redis_server.socket}?db=0 (keys huey-desk:{{app}}:*)"


# -- keys ----------------------------------------------------------------------------------
def test_every_key_is_under_the_prefix_and_journals_do_not_mix(journal, redis_url, RedisJournal):
    journal.register_consumer("c1", host="h", pid=1, workers=1)
    journal.beat("c1", [("Worker-1", 2, True)])
    journal.append(
        [
            NewEvent(ENQUEUED, "t1", "app.job", data={"args": [], "kwargs": {}}),
            NewEvent(EXECUTING, "t1", "app.job", worker="Worker-1", consumer="c1"),
            NewEvent(COMPLETE, "t1", "app.job", data={"duration": 1.0}),
            NewEvent(FLUSHED),
        ]
    )
    keys = {k.decode() for k in journal.client.keys("*")}
    assert keys and all(k.startswith("huey-desk:{app}:") for k in keys)
    other = RedisJournal(url=redis_url, name="other")
    assert other.tail(other.START) == [] and other.task("t1") is None
    assert other.consumers() == [] and other.state_counts() == {}
    other.close()


def test_a_consumer_whose_heartbeat_key_expired_is_not_live(journal):
    journal.register_consumer("c1", host="h", pid=1, workers=1)
    journal.beat("c1", [])
    key = journal.prefix + "alive:c1"
    assert 0 < journal.client.pttl(key) <= STALE_AFTER_S * 1000
    assert journal.live_consumers() == {"c1"}
    journal.client.delete(key)  # what the server does STALE_AFTER_S after the last beat
    assert journal.live_consumers() == set()
    journal.beat("c1", [])
    assert journal.live_consumers() == {"c1"}


# -- atomic batches from several writers ---------------------------------------------------
def test_concurrent_writers_keep_counts_and_summaries_whole(redis_url, RedisJournal):
    """Four writers (as four machines' consumers) race on the same tasks."""
    writers = [RedisJournal(url=redis_url, name="race") for _ in range(4)]
    t0 = time.time()
    kinds = sorted(STATE_OF)

    def write(n, journal):
        rng = random.Random(n)
        for _ in range(60):
            journal.append(
                NewEvent(rng.choice(kinds), f"t{rng.randrange(12)}", "app.job", t0 + rng.random())
                for _ in range(rng.randrange(1, 8))
            )

    threads = [threading.Thread(target=write, args=(n, j)) for n, j in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    reader = writers[0]
    tasks = reader.tasks_by_ids([f"t{i}" for i in range(12)])
    assert reader.state_counts() == dict(collections.Counter(t["state"] for t in tasks))
    events = reader.tail(reader.START, 10_000)
    for task in tasks:
        mine = [e for e in events if e.task_id == task["task_id"]]
        assert [e.cursor for e in reader.events_for(task["task_id"])] == [e.cursor for e in mine]
        assert task["state_ts"] == max(e.ts for e in mine if e.kind in STATE_OF)
    running = {t["task_id"] for t in tasks if t["state"] == EXECUTING}
    assert {r["task_id"] for r in reader.running_tasks()} == running
    for journal in writers:
        journal.close()


# -- the same events, the same summaries -----------------------------------------------
def _random_batches(seed: int) -> list[list[NewEvent]]:
    """Batches over a few tasks, every kind and flushes, with times out of order."""
    rng = random.Random(seed)
    t0 = time.time() - 1000
    kinds = [*sorted(STATE_OF), PROGRESS, FLUSHED]
    batches = []
    for _ in range(40):
        batch = []
        for _ in range(rng.randrange(1, 10)):
            kind = rng.choice(kinds)
            if kind == FLUSHED:
                batch.append(NewEvent(FLUSHED, ts=t0 + rng.uniform(0, 500)))
                continue
            data = {
                "args": [rng.randrange(5)],
                "kwargs": {"k": "v"},
                "args_exact": 1,
                "args_preview": "x",
                "priority": rng.choice([None, 1, 7]),
                "retries": rng.randrange(3),
                "duration": rng.uniform(0, 3),
                "error": rng.choice(["boom", None]),
                "traceback": "tb",
                "result_preview": "r",
                "progress": rng.random(),
                "progress_message": "m",
                "eta": "2030-01-01T00:00:00",
            }
            batch.append(
                NewEvent(
                    kind,
                    f"t{rng.randrange(6)}",
                    rng.choice(["app.a", "app.b"]),
                    t0 + rng.uniform(0, 500),
                    pid=rng.randrange(100),
                    worker=f"Worker-{rng.randrange(2)}",
                    consumer="c1",
                    data={k: v for k, v in data.items() if rng.random() < 0.6},
                )
            )
        batches.append(batch)
    return batches


@pytest.mark.parametrize("seed", range(6))
def test_same_events_give_the_same_summaries_as_sqlite(journal, tmp_path, seed):
    sqlite = SqliteJournal(tmp_path / "j.sqlite")
    batches = _random_batches(seed)
    for j in (sqlite, journal):
        j.register_consumer("c1", host="h", pid=1, workers=2)
        for batch in batches:
            j.append(batch)
    ids = [f"t{i}" for i in range(6)]
    for task_id in ids:
        want, got = sqlite.task(task_id), journal.task(task_id)
        if want is None:
            assert got is None
            continue
        for span in ("first_event", "last_event"):  # cursors differ by kind
            del want[span], got[span]
        if want["priority"] is not None:
            want["priority"] = float(want["priority"])
        assert got == want, task_id
        assert [(e.kind, e.ts, e.data) for e in journal.events_for(task_id)] == [
            (e.kind, e.ts, e.data) for e in sqlite.events_for(task_id)
        ]
    assert journal.state_counts() == sqlite.state_counts()
    assert [(e.kind, e.task_id, e.ts) for e in journal.tail(journal.START, 10_000)] == [
        (e.kind, e.task_id, e.ts) for e in sqlite.tail(sqlite.START, 10_000)
    ]
    strip = {"since", "last_beat", "consumer_beat"}  # written at "now" by each
    assert [{k: v for k, v in w.items() if k not in strip} for w in journal.workers()] == [
        {k: v for k, v in w.items() if k not in strip} for w in sqlite.workers()
    ]
    assert sorted(r["task_id"] for r in journal.running_tasks()) == sorted(
        r["task_id"] for r in sqlite.running_tasks()
    )
    sqlite.close()
