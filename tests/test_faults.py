"""Crash faults against a real consumer: SIGKILL at random moments while it drains (on
SQLite and on a real redis-server), and SIGTERM mid-task.  Nothing submitted may be lost:
every task ends complete or failed, directly or after being re-run from the in-flight
record."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest
from huey import RedisHuey, SqliteHuey

from desktop_app.core.backends import journal_for
from desktop_app.core.journal import COMPLETE, INTERRUPTED, RESTORED, SqliteJournal
from tests import redis_server as _redis
from tests.fault_helpers import Drained, account, drain_with_kills, submit_chores
from tests.helpers import Consumer, cli_json, env_for, wait_until

redis_server = _redis.redis_server
redis_url = _redis.redis_url

pytestmark = pytest.mark.consumer

# The Redis project of the consumer tests (tests/targets/redis_app.py).
REDIS_TARGET = "tests.targets.redis_app:huey"
REDIS_NAME = "desk-redis"


@pytest.fixture
def env(tmp_path):
    return env_for(tmp_path / "queue.db")


@pytest.fixture
def journal(env):
    db = Path(env["HUEY_DESK_DB"]).resolve()
    j = SqliteJournal(db.with_name(db.name + ".desk-journal"))
    yield j
    j.close()


def count(env, table: str) -> int:
    """Rows in a table of the queue database (0 while it does not exist yet)."""
    conn = sqlite3.connect(env["HUEY_DESK_DB"], timeout=10)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


@pytest.fixture(params=["sqlite", "redis"])
def drained(request, tmp_path):
    """The queue to drain: the default SQLite one, or a RedisHuey on a real redis-server."""
    db = tmp_path / "queue.db"
    if request.param == "sqlite":
        env = env_for(db)
        huey = SqliteHuey("huey-desk", filename=str(db))
        queue = Drained("sqlite", env, (), "tasks.demo", huey, journal_for(huey))
    else:
        url = request.getfixturevalue("redis_url")
        env = env_for(db, HUEY_DESK_REDIS_URL=url)
        huey = RedisHuey(REDIS_NAME, url=url)
        queue = Drained(
            "redis",
            env,
            ("--huey", REDIS_TARGET),
            "tests.targets.redis_app",
            huey,
            journal_for(huey),
        )
    yield queue
    queue.close()


def test_sigkill_at_random_moments_loses_nothing(drained):
    ids, failing = submit_chores(drained, 500, fail_every=25, seconds=0.01)
    kills = drain_with_kills(drained, ids, 5, "--workers", "2")
    figures = account(drained.journal, ids, failing)
    assert figures["interruptions"] >= 1, figures  # the kills did land on running tasks
    assert drained.kept_interrupted() == 0
    print(
        f"\n{drained.backend}, thread workers: submitted={len(ids)} kills={kills} {figures} lost=0"
    )


@pytest.mark.parametrize(
    ("drained", "size"), [("sqlite", 150), ("redis", 500)], indirect=["drained"]
)
def test_sigkill_of_consumer_and_worker_processes_loses_nothing(drained, size):
    ids, failing = submit_chores(drained, size, fail_every=25, seconds=0.01)
    kills = drain_with_kills(
        drained, ids, 3, "--workers", "2", "--worker-type", "process", workers_too=True
    )
    figures = account(drained.journal, ids, failing)
    assert figures["interruptions"] >= 1, figures
    assert drained.kept_interrupted() == 0
    print(
        f"\n{drained.backend}, process workers: submitted={len(ids)} kills={kills} "
        f"{figures} lost=0"
    )


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_sigterm_records_interrupted_then_reruns(env, journal, worker_type):
    consumer = Consumer(env, "--workers", "1", "--worker-type", worker_type)
    task_id = cli_json(env, "submit", "chore", "--kwargs", '{"seconds": 2}')["id"]
    wait_until(
        lambda: (r := journal.task(task_id)) and r["state"] == "executing",
        what="the chore running",
    )
    consumer.stop(signal.SIGTERM)
    record = journal.task(task_id)
    assert record["state"] == INTERRUPTED
    assert record["error"] == "interrupted: the consumer was stopped while the task ran"
    assert count(env, "desk_inflight") == 1  # kept for recovery, not lost
    second = Consumer(env, "--workers", "1", "--worker-type", worker_type)
    try:
        wait_until(
            lambda: journal.task(task_id)["state"] == COMPLETE,
            timeout=30,
            what="the chore re-run to complete",
        )
    finally:
        assert second.stop() == 0, second.output()
    kinds = [e.kind for e in journal.events_for(task_id)]
    assert kinds.count(INTERRUPTED) == 1, kinds  # Huey's own, not a second from recovery
    assert kinds[kinds.index(INTERRUPTED) + 1] == RESTORED and kinds[-1] == COMPLETE
    assert count(env, "desk_inflight") == 0
