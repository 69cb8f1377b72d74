"""``huey-desk consumer`` on a RedisHuey, against a real redis-server: it journals into
Redis, a consumer on another host recovers a dead one's tasks by heartbeat expiry, and a
Redis restart is ridden out.  SIGKILLs at random moments: ``tests/test_faults.py``."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

import pytest
import redis

from desktop_app.core.backends.redis.journal import RedisJournal
from desktop_app.core.journal import COMPLETE, ERROR, INTERRUPTED, RESTORED
from tests import redis_server as _redis
from tests.fault_helpers import kill
from tests.helpers import Consumer, env_for, run_python, wait_until

redis_server = _redis.redis_server
redis_url = _redis.redis_url

pytestmark = pytest.mark.consumer

TARGET = "tests.targets.redis_app:huey"
KILL_TARGET = "tests.targets.redis_kill_at:huey"
NAME = "desk-redis"
# Huey cleans the storage's name ("deskredis"); in-flight keys go by the storage's name
PREFIX = f"huey-desk:{{{NAME.replace('-', '')}}}:"
QUEUE = f"huey.redis.{NAME.replace('-', '')}"


@pytest.fixture
def env(tmp_path, redis_url):
    return env_for(tmp_path / "queue.db", HUEY_DESK_REDIS_URL=redis_url)


@pytest.fixture
def journal(redis_url):
    j = RedisJournal(url=redis_url, name=NAME)
    yield j
    j.close()


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def submit(env, calls: str) -> list:
    """Enqueue as a plain producer would (the journal knows nothing until a take)."""
    code = (
        "import json\nfrom tests.targets.redis_app import chore, add\n"
        f"print(json.dumps({calls}))\n"
    )
    proc = run_python(env, code)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def in_flight(client) -> int:
    members = client.smembers(PREFIX + "inflight")
    return sum(client.llen(PREFIX + "inflight:" + m.decode()) for m in members)


@pytest.mark.parametrize(
    ("worker_type", "priority", "expire"),
    [("thread", "0", "0"), ("process", "0", "0"), ("thread", "1", "0"), ("process", "1", "1")],
)
def test_a_consumer_on_redis_runs_tasks_and_journals_them_into_redis(
    env, journal, client, worker_type, priority, expire
):
    env["HUEY_DESK_REDIS_PRIORITY"] = priority  # 1: a PriorityRedisHuey (a sorted set)
    env["HUEY_DESK_REDIS_EXPIRE"] = expire  # 1: results under expiring keys of their own
    consumer = Consumer(env, "--huey", TARGET, "--workers", "2", "--worker-type", worker_type)
    try:
        ids = submit(env, "[add(i, i).id for i in range(20)]")
        wait_until(
            lambda: (
                all(r["state"] == COMPLETE for r in journal.tasks_by_ids(ids))
                and len(journal.tasks_by_ids(ids)) == 20
            ),
            what="20 tasks complete in the Redis journal",
        )
        [record] = [c for c in journal.consumers() if not c["stopped_at"]]
        assert record["target"] == TARGET and record["workers"] == 2
        assert journal.task(ids[3])["result_preview"] == "6"
        queued = client.zcard(QUEUE) if priority == "1" else client.llen(QUEUE)
        assert queued == 0 and in_flight(client) == 0
    finally:
        assert consumer.stop() == 0, consumer.output()
    assert "journalling to unix://" in consumer.output()
    assert all(c["stopped_at"] for c in journal.consumers())
    assert client.smembers(PREFIX + "inflight") == set()  # stopped workers leave nothing


@pytest.mark.parametrize("at", ["woken", "taken"])
def test_an_idle_priority_worker_killed_between_wake_up_and_take_loses_nothing(
    env, journal, client, at, tmp_path
):
    """The old window: BZPOPMIN, then a second round trip to record the take.  Now the
    worker is woken by Redis and takes with one script, so a kill on either side of the
    script leaves the message in the queue or in the dead worker's processing list."""
    env["HUEY_DESK_REDIS_PRIORITY"] = "1"
    mark = tmp_path / "waiting"
    doomed = Consumer(
        {**env, "HUEY_DESK_KILL_AT": at, "HUEY_DESK_KILL_MARK": str(mark)},
        "--huey",
        KILL_TARGET,
        "--workers",
        "1",
    )
    wait_until(mark.exists, what="the idle worker to wait for a write to the queue")
    [task_id] = submit(env, "[chore(0).id]")
    assert doomed.proc.wait(30) == -signal.SIGKILL, doomed.output()
    doomed.stop()
    if at == "woken":
        assert client.zcard(QUEUE) == 1 and in_flight(client) == 0  # never taken
    else:
        assert client.zcard(QUEUE) == 0 and in_flight(client) == 1  # taken, recorded
    survivor = Consumer(env, "--huey", TARGET, "--workers", "1")
    try:
        wait_until(
            lambda: (journal.task(task_id) or {}).get("state") == COMPLETE,
            timeout=30,
            what="the task to run to completion after the kill",
        )
        assert client.zcard(QUEUE) == 0 and in_flight(client) == 0
    finally:
        assert survivor.stop() == 0, survivor.output()
    kinds = [e.kind for e in journal.events_for(task_id)]
    if at == "taken":
        assert INTERRUPTED in kinds and RESTORED in kinds  # recovered from the list, re-run
    assert kinds.count(COMPLETE) == 1


def test_a_consumer_on_another_host_recovers_a_dead_ones_task_by_heartbeat_expiry(
    env, journal, client
):
    doomed = Consumer({**env, "HUEY_DESK_HOST": "host-a"}, "--huey", TARGET)
    survivor = None
    try:
        [task_id] = submit(env, "[chore(30).id]")
        wait_until(
            lambda: (journal.task(task_id) or {}).get("state") == "executing",
            what="the long chore running on host-a",
        )
        survivor = Consumer({**env, "HUEY_DESK_HOST": "host-b"}, "--huey", TARGET)
        wait_until(lambda: len(journal.live_consumers()) == 2, what="host-b up")
        killed_at = time.time()
        kill(doomed, workers_too=False)
        wait_until(
            lambda: INTERRUPTED in [e.kind for e in journal.events_for(task_id)],
            timeout=20,
            what="the dead host's task journalled interrupted",
        )
        events = journal.events_for(task_id)
        interrupted = next(e for e in events if e.kind == INTERRUPTED)
        delay = interrupted.ts - killed_at
        print(f"\njournalled interrupted {delay:.2f} s after the SIGKILL: {interrupted.data}")
        assert "host-a stopped beating" in interrupted.data["error"], interrupted.data
        assert RESTORED in [e.kind for e in events]  # it declared retries: re-run
        assert delay < 5.5
        wait_until(
            lambda: (
                journal.task(task_id)["state"] == "executing"
                and journal.task(task_id)["consumer"].startswith("host-b")
            ),
            timeout=20,
            what="the re-run on host-b",
        )
        assert in_flight(client) == 1  # the re-run's take, on host-b
    finally:
        if survivor is not None:
            survivor.stop(signal.SIGTERM)
        doomed.stop()


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own (with an append-only file), to restart."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed")
    folder = tmp_path / "own-redis"
    folder.mkdir()
    server = _redis.RedisServer(folder / "redis.sock", folder / "redis.pid")
    args = [exe, "--port", "0", "--unixsocket", str(server.socket), "--unixsocketperm", "700"]
    args += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
    args += ["--dir", str(folder), "--logfile", str(folder / "redis.log")]
    args += ["--daemonize", "yes", "--pidfile", str(server.pidfile)]

    def start() -> None:
        subprocess.run(args, stdin=subprocess.DEVNULL, check=True, timeout=10)
        _redis._wait_ready(server, folder / "redis.log")

    def stop() -> None:
        _redis._stop(server.pidfile)

    start()
    server.start, server.stop = start, stop  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        stop()


def test_redis_restarted_under_a_live_consumer_backs_off_then_resumes(tmp_path, own_redis):
    env = env_for(tmp_path / "queue.db", HUEY_DESK_REDIS_URL=own_redis.url)
    journal = RedisJournal(url=own_redis.url, name=NAME)
    client = redis.Redis.from_url(own_redis.url)
    consumer = Consumer(env, "--huey", TARGET, "--workers", "1")
    unreachable = f"Redis at {own_redis.url} is unreachable"
    try:
        before = submit(env, "[add(i, 1).id for i in range(5)]")
        wait_until(
            lambda: (
                all(r["state"] == COMPLETE for r in journal.tasks_by_ids(before))
                and len(journal.tasks_by_ids(before)) == 5
            ),
            what="the first tasks done",
        )
        # queued while the worker is busy, then Redis goes away under it
        queued = submit(env, "[chore(1.0).id] + [add(i, 2).id for i in range(10)]")
        wait_until(lambda: client.llen(QUEUE) == 10, what="the chore taken, ten queued")
        client.close()
        own_redis.stop()
        # the worker backs off, one line each time, the wait doubling: 0.5 s, 1 s, 2 s
        wait_until(
            lambda: f"{unreachable}; retrying in 2 s" in consumer.output(),
            what="the worker's third back-off",
        )
        assert consumer.proc.poll() is None  # it runs on, backing off
        own_redis.start()
        wait_until(
            lambda: (
                len(journal.tasks_by_ids(queued[1:])) == 10
                and all(r["state"] == COMPLETE for r in journal.tasks_by_ids(queued[1:]))
            ),
            timeout=60,
            what="every task queued before the restart to complete",
        )
        # the chore ended during the outage: its last record waited for Redis, not dropped
        wait_until(
            lambda: journal.task(queued[0])["state"] in (COMPLETE, ERROR),
            what="the chore's end journalled after the restart",
        )
        client = redis.Redis.from_url(own_redis.url)
        assert client.llen(QUEUE) == 0
        assert in_flight(client) == 0
    finally:
        assert consumer.stop() == 0, consumer.output()
        journal.close()
        client.close()
    out = consumer.output()
    said = [line for line in out.splitlines() if "ERROR" in line or "WARNING" in line]
    print("\n".join(said))
    waits = [line.split("retrying in ")[1] for line in said if f"{unreachable}; retry" in line]
    assert waits[:3] == ["0.5 s", "1 s", "2 s"], waits
    # one line each, never a traceback: not Huey's (reading the queue and the schedule,
    # storing the chore's result), not ours; the heartbeat's once, then once it works
    assert "Traceback" not in out and "Error reading from queue" not in out
    assert sum("Heartbeat failed: Redis cannot be reached" in line for line in said) == 1
    assert "Heartbeat succeeded again." in out


def test_a_consumer_registers_again_when_redis_comes_back_empty(tmp_path, redis_url):
    """Redis restarted without persistence: the live consumer is listed again."""
    env = env_for(tmp_path / "queue.db", HUEY_DESK_REDIS_URL=redis_url)
    journal = RedisJournal(url=redis_url, name=NAME)
    consumer = Consumer(env, "--huey", TARGET, "--workers", "2")
    try:
        wait_until(lambda: len(journal.live_consumers()) == 1, what="the consumer beating")
        journal.client.flushdb()  # what a restart without persistence leaves
        # (no look at the empty list here: the next beat may register it again at once)
        (again,) = wait_until(
            lambda: "registering it again" in consumer.output() and journal.consumers(),
            what="the consumer registered again",
        )
        assert again["pid"] == consumer.proc.pid and again["stopped_at"] is None
        wait_until(lambda: len(journal.live_consumers()) == 1, what="it beats again")
        done = submit(env, "[add(2, 3).id]")
        wait_until(lambda: (journal.task(done[0]) or {}).get("state") == COMPLETE, what="work")
    finally:
        assert consumer.stop() == 0, consumer.output()
        journal.close()
    assert "registering it again" in consumer.output()
