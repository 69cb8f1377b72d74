"""Two machines sharing one Redis: consumers in their own UTS and PID namespaces (their
own hostnames and pids), each with its own data folder, and a watcher in a third."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest
from huey import RedisHuey

from desktop_app.core.backends.redis.journal import RedisJournal
from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import COMPLETE, INTERRUPTED, RESTORED
from tests import redis_server as _redis
from tests.helpers import ROOT, env_for, wait_until
from tests.test_redis_consumer import submit

redis_server = _redis.redis_server
redis_url = _redis.redis_url
pytestmark = pytest.mark.consumer

NAME = "desk-redis"  # tests/targets/redis_app.py
TARGET = "tests.targets.redis_app:huey"
UNSHARE = ["unshare", "--uts", "--pid", "--fork", "--mount-proc"]


def namespaces_allowed() -> str | None:
    """Why machines cannot be made here, or None."""
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"unshare is not permitted here ({probe.stderr.strip() or probe.returncode})"
    return None


class Machine:
    """A consumer on a host of its own: hostname, pid numbering and data folder."""

    def __init__(self, name: str, url: str, folder) -> None:
        self.name = name
        folder.mkdir()
        env = dict(os.environ)
        env.pop("HUEY_DESK_HOST", None)
        env.update(
            HUEY_DESK_DATA=str(folder),
            HUEY_DESK_DB=str(folder / "unused.db"),
            HUEY_DESK_REDIS_URL=url,
            PYTHONPATH=str(ROOT),
        )
        self.log = folder / "consumer.log"
        command = (
            f"hostname {name} && exec {sys.executable} -m desktop_app consumer "
            f"--huey {TARGET} --workers 2"
        )
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*UNSHARE, "sh", "-c", command], env=env, cwd=ROOT, stdout=out, stderr=out
            )

    def init(self) -> psutil.Process:
        """The consumer: pid 1 of the machine's namespace, the child of ``unshare``."""
        return wait_until(
            lambda: psutil.Process(self.proc.pid).children(), what=f"{self.name} started"
        )[0]

    def crash(self) -> None:
        """The machine dies: SIGKILL to its pid 1 ends everything in it."""
        self.init().send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.init().send_signal(signal.SIGTERM)  # running tasks interrupted
                self.proc.wait(30)
            except (psutil.Error, subprocess.TimeoutExpired, AssertionError):
                self.proc.kill()
                self.proc.wait(30)


@pytest.fixture
def machines(tmp_path, redis_url):
    reason = namespaces_allowed()
    if reason is not None:
        pytest.skip(reason)
    made = [Machine(n, redis_url, tmp_path / n) for n in ("machine-a", "machine-b")]
    yield made
    for machine in made:
        machine.stop()


def test_a_watcher_sees_both_machines_and_a_dead_machines_task_interrupted(
    machines, redis_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("HUEY_DESK_DATA", str(tmp_path / "watcher"))  # a third folder
    huey = RedisHuey(NAME, url=redis_url)
    journal = RedisJournal(url=redis_url, name=NAME)
    inspector = Inspector(huey, journal, TARGET)
    producer = env_for(tmp_path / "producer.db", HUEY_DESK_REDIS_URL=redis_url)
    try:
        live = wait_until(
            lambda: len(w := [x for x in inspector.workers() if x["state"] == "idle"]) == 4 and w,
            timeout=30,
            what="both machines' workers",
        )
        assert {w["host"] for w in live} == {"machine-a", "machine-b"}
        consumers = {c["host"]: c for c in journal.consumers()}
        assert set(consumers) == {"machine-a", "machine-b"}
        assert {c["pid"] for c in consumers.values()} == {1}  # pids mean nothing across hosts
        done = submit(producer, "[add(i, i).id for i in range(20)]")
        wait_until(
            lambda: sum(r["state"] == COMPLETE for r in journal.tasks_by_ids(done)) == 20,
            what="every task done",
        )
        ran_on = {r["consumer"].split(":")[0] for r in journal.tasks_by_ids(done)}
        assert ran_on <= {"machine-a", "machine-b"}
        # a long task for every worker of both machines (so machine-a surely runs one)
        long = submit(producer, "[chore(60).id for _ in range(4)]")
        running = wait_until(
            lambda: len(r := journal.running_tasks()) == 4 and r, what="all four running"
        )
        on_a = next(r["task_id"] for r in running if r["consumer"].startswith("machine-a:"))
        machines[0].crash()
        crashed = time.monotonic()
        event = wait_until(
            lambda: next((e for e in journal.events_for(on_a) if e.kind == INTERRUPTED), None),
            timeout=20,
            what="machine-a's task journalled interrupted by machine-b",
        )
        print(f"interrupted {time.monotonic() - crashed:.2f} s after the crash")
        assert "machine-a" in event.data["error"] and "stopped beating" in event.data["error"]
        # it declared retries: put back once, on the queue machine-b takes from
        kinds = [e.kind for e in journal.events_for(on_a)]
        assert kinds.count(INTERRUPTED) == 1 and kinds.count(RESTORED) == 1
        assert set(long) >= {on_a}
        gone = [w for w in inspector.workers() if w["host"] == "machine-a"]
        assert all(w["state"] == "dead" for w in gone)
    finally:
        journal.close()
        huey.storage.pool.disconnect()
