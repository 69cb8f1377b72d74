"""Fault injection for the tests: a lock held by another process, read-only paths, damaged
files, and a real consumer SIGKILLed while a queue (SQLite or Redis) drains."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from desktop_app.core.journal import (
    COMPLETE,
    ERROR,
    EXECUTING,
    INTERRUPTED,
    RESTORED,
    RETRYING,
)
from tests.helpers import Consumer, run_python, wait_until

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
print("released", flush=True)
"""


class Locker:
    """Another process that holds ``BEGIN EXCLUSIVE`` on a database until released."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "locked"  # blocks until it holds it
        self.released = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "released"
        self.proc.wait(10)
        self.proc.stdin.close()
        self.proc.stdout.close()

    def __enter__(self) -> Locker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` (a file or a folder) unwritable, even for root, while in the block.

    Root ignores permission bits, so as root the immutable attribute is used
    (``chattr +i``); the test is skipped where that is not possible.
    """
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root, which ignores permissions, and chattr is missing")
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"running as root and chattr +i failed: {done.stderr.strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)


def damage(db: Path, from_page: int = 2, page_size: int = 4096) -> None:
    """Overwrite the start of every page after ``from_page`` with garbage."""
    data = bytearray(db.read_bytes())
    for offset in range(page_size * from_page, len(data), page_size):
        data[offset : offset + 100] = bytes(range(100))
    db.write_bytes(bytes(data))


# -- crashes of a real consumer ---------------------------------------------------------
SEED = 20261126


@dataclass
class Drained:
    """A queue the crash tests drain, on one backend: the environment its consumers and
    producers run in, the ``--huey`` arguments, and this process's own view of it."""

    backend: str
    env: dict[str, str]
    target_args: tuple[str, ...]
    chore_module: str
    huey: Any
    journal: Any

    def store(self) -> Any:
        from desktop_app.core.backends import inflight_store

        return inflight_store(self.huey)

    def left_in_storage(self) -> int:
        """Messages still queued, scheduled or taken and not finished."""
        storage = self.huey.storage
        return storage.queue_size() + storage.schedule_size() + self.store().count()

    def kept_interrupted(self) -> int:
        """Interrupted messages kept for a manual re-run instead of re-run."""
        return len(self.store().kept_interrupted(100))

    def close(self) -> None:
        self.journal.close()
        storage = self.huey.storage
        if hasattr(storage, "pool"):
            storage.pool.disconnect()
        else:
            storage.close()


def submit_chores(queue: Drained, n: int, fail_every: int, seconds: float):
    """Enqueue ``n`` chores as a plain Huey producer would (the journal sees nothing
    until a consumer takes them); every ``fail_every``-th one raises.  Returns the ids
    and the set of those that fail."""
    code = (
        f"import json\nfrom {queue.chore_module} import chore\n"
        f"print(json.dumps([[chore({seconds}, fail=(i % {fail_every} == 0)).id, "
        f"i % {fail_every} == 0] for i in range({n})]))\n"
    )
    proc = run_python(queue.env, code)
    assert proc.returncode == 0, proc.stderr
    pairs = json.loads(proc.stdout)
    return [p[0] for p in pairs], {p[0] for p in pairs if p[1]}


def finished(journal: Any) -> int:
    counts = journal.state_counts()
    return counts.get(COMPLETE, 0) + counts.get(ERROR, 0)


def kill(consumer: Any, workers_too: bool) -> None:
    """SIGKILL the consumer (and, with ``workers_too``, its worker processes, as an OOM
    kill or a kill of the whole service would), then wait for what it left behind (its
    journal writer, worker processes finishing their task) to exit."""
    children = psutil.Process(consumer.proc.pid).children(recursive=True)
    if workers_too:
        for child in children:
            if "journal_writer" not in " ".join(child.cmdline()):
                child.kill()
    assert consumer.stop(signal.SIGKILL) == -signal.SIGKILL
    wait_until(
        lambda: not [p for p in children if _running(p)],
        timeout=30,
        what="the killed consumer's children to exit",
    )


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def drain_with_kills(
    queue: Drained, ids: list[str], kills: int, *args: str, workers_too: bool = False
) -> int:
    """Run consumers, each SIGKILLed once the journal shows a random number of tasks
    finished, then one more to the end; returns how many kills were done."""
    journal = queue.journal
    rng = random.Random(SEED)
    points = sorted(rng.sample(range(len(ids) // 10, len(ids) * 9 // 10), kills))
    args = (*queue.target_args, *args)
    for point in points:
        consumer = Consumer(queue.env, *args)
        wait_until(lambda p=point: finished(journal) >= p, timeout=30, what=f"{point} done")
        kill(consumer, workers_too)
    last = Consumer(queue.env, *args)
    try:
        wait_until(
            lambda: (
                queue.left_in_storage() == 0
                and len(records := journal.tasks_by_ids(ids)) == len(ids)
                and all(r["state"] in (COMPLETE, ERROR) for r in records)
            ),
            timeout=60,
            what="every task to end",
        )
    finally:
        assert last.stop() == 0, last.output()
    return len(points)


def account(journal: Any, ids: list[str], failing: set[str]) -> dict[str, int]:
    """Put every submitted id in exactly one outcome; fail on any that is lost."""
    records = {r["task_id"]: r for r in journal.tasks_by_ids(ids)}
    missing = [i for i in ids if i not in records]
    assert not missing, f"{len(missing)} tasks lost, e.g. {missing[:3]}"
    outcome = {"complete": 0, "error": 0, "rerun-complete": 0, "rerun-error": 0}
    interruptions = reruns = before_start = 0
    for task_id in ids:
        state = records[task_id]["state"]
        assert state == (ERROR if task_id in failing else COMPLETE), (task_id, state)
        events = journal.events_for(task_id)
        kinds = [e.kind for e in events]
        interrupted = kinds.count(INTERRUPTED)
        restored = [e for e in events if e.kind == RESTORED and e.data.get("rerun")]
        interruptions += interrupted
        for n, e in enumerate(events):
            if e.kind == INTERRUPTED and "before it was seen to start" in e.data.get("error", ""):
                # taken by a worker that died before its "executing" event: none exists
                # for this attempt (the same worker may have run an earlier one, which
                # failed and was retried, or was interrupted and re-run)
                attempt = max(
                    (i for i, x in enumerate(events[:n]) if x.kind in (RETRYING, RESTORED)),
                    default=-1,
                )
                assert not [
                    x for x in events[attempt + 1 : n] if x.kind == EXECUTING and x.pid == e.pid
                ], (task_id, kinds)
                before_start += 1
        reruns += len(restored)
        if interrupted:
            # each interruption is followed by a re-run, and the last run ended
            assert len(restored) == interrupted, (task_id, kinds)
            last = max(i for i, k in enumerate(kinds) if k == INTERRUPTED)
            assert kinds[last + 1] == RESTORED and kinds[-1] == state, (task_id, kinds)
            outcome[f"rerun-{state}"] += 1
        else:
            outcome[state] += 1
    assert sum(outcome.values()) == len(ids)
    return {
        **outcome,
        "interruptions": interruptions,
        "taken-not-started": before_start,
        "reruns": reruns,
    }
