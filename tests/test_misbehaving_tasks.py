"""Tasks that misbehave, run by a real consumer: a result pickle cannot store, a huge
result, megabytes of output, a task module that does not import.  The consumer survives
each one and the user is told what happened."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.helpers import Consumer, cli, cli_json, env_for, run_python, wait_until

pytestmark = pytest.mark.consumer
TARGET = ("--huey", "tests.targets.misbehaving:huey")


@pytest.fixture
def env(tmp_path):
    return env_for(tmp_path / "queue.db")


@pytest.fixture
def consumer(env):
    proc = Consumer(env, *TARGET, "--workers", "2", "--no-periodic")
    wait_until(
        lambda: [w for w in cli_json(env, "status", *TARGET)["workers"] if w["state"] == "idle"],
        what="the consumer's workers to report idle",
    )
    yield proc
    assert proc.stop() == 0, proc.output()[-3000:]


def submit(env, *args: str) -> str:
    return cli_json(env, "submit", *args, *TARGET)["id"]


def show(env, task_id: str, *extra: str) -> dict:
    return cli_json(env, "show", task_id, *extra, *TARGET)


def ended(env, task_id: str, timeout: float = 30) -> dict:
    return wait_until(
        lambda: (i := show(env, task_id))["state"] in ("complete", "error") and i,
        timeout=timeout,
        what=f"task {task_id} to end",
    )


def test_result_that_cannot_be_pickled_leaves_the_consumer_working(env, consumer):
    bad = submit(env, "unpicklable")
    good = submit(env, "fine", "--args", "[3]")
    assert ended(env, good)["result"] == 3
    assert consumer.proc.poll() is None
    assert "cannot pickle" in consumer.output()  # Huey logs why the result was not stored
    info = show(env, bad)
    assert info["result"] is None


def test_result_that_cannot_be_pickled_ends_as_an_error(env, consumer):
    bad = submit(env, "unpicklable")
    submit(env, "fine", "--args", "[1]")
    info = ended(env, bad, timeout=10)
    assert info["state"] == "error" and "pickle" in info["error"]


def test_huge_result_is_previewed_and_shown_in_full_on_demand(env, consumer):
    size = 5_000_000
    task_id = submit(env, "huge", "--args", f"[{size}]")
    info = ended(env, task_id)
    assert info["state"] == "complete"
    assert len(info["result_preview"]) <= 200 and "..." in info["result_preview"]
    assert len(info["result"]) == size and info["result"].endswith("!")  # --json: in full
    text = cli(env, "show", task_id, *TARGET).stdout
    assert len(text) < 5000 and "result: 'xxxx" in text
    full = cli(env, "show", task_id, "--full", *TARGET).stdout
    line = next(ln for ln in full.splitlines() if ln.startswith("  result: "))
    assert json.loads(line[len("  result: ") :]) == "x" * (size - 1) + "!"


def test_megabytes_of_output_do_not_stop_the_consumer(env, consumer):
    task_id = submit(env, "chatty", "--args", "[8]")
    assert ended(env, task_id, timeout=60)["result"] == 8
    good = submit(env, "fine", "--args", "[4]")
    assert ended(env, good)["result"] == 4
    assert consumer.output().count("y" * 1023) >= 8 * 1024
    assert cli_json(env, "status", *TARGET)["pending"] == 0


def test_task_module_that_fails_to_import_stops_the_consumer_in_one_sentence(env):
    proc = cli(env, "consumer", "--huey", "tests.targets.broken:huey")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "Importing 'tests.targets.broken' failed" in lines[0]
    assert "a_dependency_that_is_not_installed" in lines[0]


BARE = ("--huey", "tests.targets.bare:huey")  # the instance alone: no task registered
PROJECT = ("--huey", "tests.targets.bare_tasks:huey")
PRODUCER = """
from tests.targets.bare_tasks import send

class Ghost:  # gone once this process ends: a class no consumer can load
    pass

print(send("ann").id, send(Ghost()).id)
"""


def _kept(db) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT task_id, task_name, error FROM desk_unrunnable").fetchall()
        except sqlite3.OperationalError:  # the consumer has not made the table yet
            return []


def _count(db, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _idle(env, target) -> None:
    wait_until(
        lambda: [w for w in cli_json(env, "status", *target)["workers"] if w["state"] == "idle"],
        what="the consumer's workers to report idle",
    )


def test_a_message_the_consumer_cannot_run_is_kept_explained_and_rerun(env, tmp_path):
    db = tmp_path / "queue.db"
    produced = run_python(env, PRODUCER)
    assert produced.returncode == 0, produced.stderr
    known, ghost = produced.stdout.split()
    with sqlite3.connect(db) as conn:  # and bytes nobody can decode
        conn.execute("INSERT INTO task (queue, data, priority) VALUES ('bare', x'00ff17', 0)")
    consumer = Consumer(env, *BARE, "--workers", "1", "--no-periodic")
    try:
        wait_until(lambda: len(_kept(db)) == 3, what="the three messages to be kept")
        info = wait_until(
            lambda: (i := cli_json(env, "show", known, *PROJECT))["state"] == "error" and i,
            what="the unregistered task to be journalled as an error",
        )
        assert (
            "Task 'tests.targets.bare_tasks.send' is not registered in tests.targets.bare:huey"
            in info["error"]
        )
        assert "--huey tests.targets.bare_tasks:huey" in info["error"]
        undecodable = wait_until(
            lambda: (i := cli_json(env, "show", ghost, *PROJECT))["state"] == "error" and i,
            what="the undecodable message to be journalled",
        )
        assert "cannot be decoded" in undecodable["error"] and "Ghost" in undecodable["error"]
        assert _count(db, "task") == 0 and _count(db, "desk_inflight") == 0
        assert consumer.proc.poll() is None
        _idle(env, BARE)
    finally:
        assert consumer.stop() == 0, consumer.output()[-3000:]
    assert "is not registered in tests.targets.bare:huey" in consumer.output()  # logged too

    consumer = Consumer(env, *PROJECT, "--workers", "1", "--no-periodic")
    try:
        _idle(env, PROJECT)
        assert cli_json(env, "retry", known, *PROJECT)["id"] == known  # same id: kept message
        done = wait_until(
            lambda: (i := cli_json(env, "show", known, *PROJECT))["state"] == "complete" and i,
            what="the kept message to run under the right target",
        )
        assert done["result"] == "sent to ann"
    finally:
        assert consumer.stop() == 0, consumer.output()[-3000:]
    assert sorted(str(k[0]) for k in _kept(db)) == sorted([ghost, "None"])
