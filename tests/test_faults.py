"""Crash faults against a real consumer: SIGKILL at random moments while it drains, and
SIGTERM mid-task.  Nothing submitted may be lost: every task ends complete or failed,
directly or after being re-run from the in-flight table."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
from pathlib import Path

import psutil
import pytest

from desktop_app.core.journal import (
    COMPLETE,
    ERROR,
    EXECUTING,
    INTERRUPTED,
    RESTORED,
    RETRYING,
    SqliteJournal,
)
from tests.helpers import Consumer, cli_json, env_for, run_python, wait_until

pytestmark = pytest.mark.consumer

SEED = 20261126


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


def submit_chores(env, n: int, fail_every: int, seconds: float) -> tuple[list[str], set[str]]:
    """Enqueue ``n`` chores as a plain Huey producer would (the journal sees nothing
    until a consumer takes them); every ``fail_every``-th one raises."""
    code = (
        "import json\nfrom tasks.demo import chore\n"
        f"print(json.dumps([[chore({seconds}, fail=(i % {fail_every} == 0)).id, "
        f"i % {fail_every} == 0] for i in range({n})]))\n"
    )
    proc = run_python(env, code)
    assert proc.returncode == 0, proc.stderr
    pairs = json.loads(proc.stdout)
    return [p[0] for p in pairs], {p[0] for p in pairs if p[1]}


def finished(journal: SqliteJournal) -> int:
    counts = journal.state_counts()
    return counts.get(COMPLETE, 0) + counts.get(ERROR, 0)


def kill(consumer: Consumer, workers_too: bool) -> None:
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


def drain_with_kills(env, journal, ids, kills: int, *args: str, workers_too: bool = False) -> int:
    """Run consumers, each SIGKILLed once the journal shows a random number of tasks
    finished, then one more to the end; returns how many kills were done."""
    rng = random.Random(SEED)
    points = sorted(rng.sample(range(len(ids) // 10, len(ids) * 9 // 10), kills))
    for point in points:
        consumer = Consumer(env, *args)
        wait_until(lambda p=point: finished(journal) >= p, timeout=30, what=f"{point} done")
        kill(consumer, workers_too)
    last = Consumer(env, *args)
    try:
        wait_until(
            lambda: (
                count(env, "task") == 0
                and count(env, "desk_inflight") == 0
                and count(env, "schedule") == 0
                and all(r["state"] in (COMPLETE, ERROR) for r in journal.tasks_by_ids(ids))
                and len(journal.tasks_by_ids(ids)) == len(ids)
            ),
            timeout=60,
            what="every task to end",
        )
    finally:
        assert last.stop() == 0, last.output()
    return len(points)


def account(journal, ids, failing) -> dict[str, int]:
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


def test_sigkill_at_random_moments_loses_nothing(env, journal):
    ids, failing = submit_chores(env, 500, fail_every=25, seconds=0.01)
    kills = drain_with_kills(env, journal, ids, 5, "--workers", "2")
    figures = account(journal, ids, failing)
    assert figures["interruptions"] >= 1, figures  # the kills did land on running tasks
    assert count(env, "desk_interrupted") == 0
    print(f"\nthread workers: submitted={len(ids)} kills={kills} {figures} lost=0")


def test_sigkill_of_consumer_and_worker_processes_loses_nothing(env, journal):
    ids, failing = submit_chores(env, 150, fail_every=25, seconds=0.01)
    kills = drain_with_kills(
        env, journal, ids, 3, "--workers", "2", "--worker-type", "process", workers_too=True
    )
    figures = account(journal, ids, failing)
    assert figures["interruptions"] >= 1, figures
    assert count(env, "desk_interrupted") == 0
    print(f"\nprocess workers: submitted={len(ids)} kills={kills} {figures} lost=0")


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
