"""End to end: a real consumer subprocess on a temporary queue, driven by the CLI and by
plain Huey calls from another process; every state is seen in status and show."""

from __future__ import annotations

import json
import signal

import psutil
import pytest

from desktop_app.core.paths import ensure_private_file
from tests.helpers import Consumer, cli, cli_json, env_for, run_python, wait_until

pytestmark = pytest.mark.consumer


@pytest.fixture
def env(tmp_path):
    # an empty queue file: read-only commands refuse a queue that does not exist
    return env_for(ensure_private_file(tmp_path / "queue.db"))


@pytest.fixture
def consumer(env):
    proc = Consumer(env, "--workers", "2")
    wait_until(
        lambda: [w for w in cli_json(env, "status")["workers"] if w["state"] == "idle"],
        what="the consumer's workers to report idle",
    )
    yield proc
    assert proc.stop() == 0, proc.output()


def show(env, task_id):
    return cli_json(env, "show", task_id)


def test_submit_runs_and_completes_with_events(env, consumer):
    task_id = cli_json(
        env, "submit", "send_email", "--args", "[7]", "--kwargs", '{"seconds": 1.0}'
    )["id"]
    busy = wait_until(
        lambda: [
            w
            for w in cli_json(env, "status")["workers"]
            if w["state"] == "busy" and w["task_id"] == task_id
        ],
        what="a worker busy with the task",
    )
    assert busy[0]["pid"] == consumer.proc.pid
    info = wait_until(
        lambda: (i := show(env, task_id))["state"] == "complete" and i, what="the task to complete"
    )
    assert info["task"] == "tasks.demo.send_email"
    assert info["args"] == [7] and info["kwargs"] == {"seconds": 1.0}
    assert info["result"] == "sent 'Welcome aboard' to user 7"
    kinds = [e["kind"] for e in info["events"]]
    assert kinds[0] == "enqueued" and kinds[1] == "executing" and kinds[-1] == "complete"
    progress = [e["data"]["progress"] for e in info["events"] if e["kind"] == "progress"]
    assert progress == [0.25, 0.5, 0.75, 1.0]
    assert info["duration"] >= 1.0
    status = cli_json(env, "status")
    assert status["counts"]["complete"] >= 1 and status["pending"] == 0


def test_failure_shows_traceback_and_can_be_retried(env, consumer):
    task_id = cli_json(env, "submit", "always_fail", "--args", '["disk on fire"]')["id"]
    info = wait_until(
        lambda: (i := show(env, task_id))["state"] == "error" and i, what="the task to fail"
    )
    assert "disk on fire" in info["error"]
    assert "Traceback (most recent call last)" in info["traceback"]
    assert "RuntimeError: disk on fire" in info["traceback"]
    again = cli_json(env, "retry", task_id)
    assert again["retry_of"] == task_id
    retried = wait_until(lambda: (i := show(env, again["id"]))["state"] == "error" and i)
    assert retried["args"] == ["disk on fire"] and retried["retry_of"] == task_id


def test_flaky_task_retries_then_succeeds(env, consumer):
    task_id = cli_json(env, "submit", "flaky", "--kwargs", '{"fail_times": 1}')["id"]
    info = wait_until(
        lambda: (i := show(env, task_id))["state"] == "complete" and i,
        timeout=30,
        what="the flaky task to succeed",
    )
    kinds = [e["kind"] for e in info["events"]]
    assert "error" in kinds and "retrying" in kinds and kinds[-1] == "complete"
    assert info["attempts"] == 2


def test_plain_huey_producer_is_picked_up_and_journalled(env, consumer, tmp_path):
    code = "from tasks.demo import sleep_for\nprint(sleep_for(0.2).id)\n"
    proc = run_python(env, code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    task_id = proc.stdout.strip()
    info = wait_until(lambda: (i := show(env, task_id))["state"] == "complete" and i)
    assert info["args"] == [0.2]
    first = info["events"][0]["kind"]
    assert first == "executing"  # the producer has no hooks: the consumer saw it first


def test_scheduled_revoked_and_restored(env, consumer):
    later = cli_json(env, "submit", "noop", "--delay", "3600")["id"]
    wait_until(lambda: cli_json(env, "status")["scheduled"] == 1, what="the task scheduled")
    assert show(env, later)["state"] == "scheduled"
    revoked = cli_json(env, "revoke", later)
    assert revoked == {"id": later, "revoked": True}
    assert show(env, later)["state"] == "revoked"
    cli_json(env, "restore", later)
    assert show(env, later)["state"] == "enqueued"
    assert cli_json(env, "run-now", later) == {"id": later, "run_now": True}
    wait_until(lambda: show(env, later)["state"] == "complete", what="the task run now")


def test_priority_orders_the_queue(env, tmp_path):
    low = cli_json(env, "submit", "noop")["id"]
    high = cli_json(env, "submit", "noop", "--priority", "100")["id"]
    consumer = Consumer(env, "--workers", "1")
    try:
        done = wait_until(lambda: all(show(env, t)["state"] == "complete" for t in (low, high)))
        assert done
        started = {t: show(env, t)["started_at"] for t in (low, high)}
        assert started[high] <= started[low]
    finally:
        assert consumer.stop() == 0


def test_process_workers_report_from_their_own_processes(env):
    consumer = Consumer(env, "--workers", "2", "--worker-type", "process")
    try:
        task_id = cli_json(
            env, "submit", "send_email", "--args", "[3]", "--kwargs", '{"seconds": 0.4}'
        )["id"]
        info = wait_until(
            lambda: (i := show(env, task_id))["state"] == "complete" and i,
            what="the task to complete in a worker process",
        )
        assert info["pid"] != consumer.proc.pid
        assert info["worker"].startswith("Worker-")
        assert [e["kind"] for e in info["events"]].count("progress") == 4
        workers = cli_json(env, "status")["workers"]
        assert {w["state"] for w in workers} == {"idle"}
        assert all(w["pid"] != consumer.proc.pid for w in workers)
    finally:
        assert consumer.stop() == 0, consumer.output()


def test_consumer_with_a_bad_target_says_why(env):
    proc = cli(env, "consumer", "--huey", "tasks.nothing_here:huey")
    assert proc.returncode == 2
    assert "No module named 'tasks.nothing_here'" in proc.stderr


def test_graceful_stop_marks_workers_stopped(env):
    consumer = Consumer(env)
    wait_until(lambda: cli_json(env, "status")["workers"], what="a worker")
    assert consumer.stop(signal.SIGINT) == 0
    assert "Huey Desk consumer" in consumer.output()
    states = {w["state"] for w in cli_json(env, "status")["workers"]}
    assert states == {"stopped"}


def test_killed_consumer_leaves_its_task_interrupted(env):
    consumer = Consumer(env)
    task_id = cli_json(env, "submit", "sleep_for", "--args", "[30]")["id"]
    wait_until(lambda: show(env, task_id)["state"] == "executing", what="the task running")
    consumer.stop(signal.SIGKILL)
    info = wait_until(
        lambda: (i := show(env, task_id))["state"] == "interrupted" and i,
        timeout=15,
        what="the orphan to be seen as interrupted",
    )
    assert "the consumer died" in info["error"]  # the one rule: liveness.Liveness
    # the next consumer records it for good
    second = Consumer(env)
    try:
        wait_until(
            lambda: [e for e in show(env, task_id)["events"] if e["kind"] == "interrupted"],
            what="an interrupted event",
        )
    finally:
        assert second.stop() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["submit", "nope"], "Unknown task 'nope'"),
        (["submit", "send_email"], "missing a required argument: 'user_id'"),
        (["submit", "send_email", "--args", '["x"]'], "must be a whole number"),
        (["submit", "send_email", "--args", "[1"], "--args is not valid JSON"),
        (["submit", "send_email", "--args", '{"a": 1}'], "--args must be a list"),
        (["submit", "send_email", "--kwargs", "[]"], "--kwargs must be an object"),
        (["submit", "sleep_for", "--args", "[NaN]"], "NaN is not allowed"),
        (["submit", "noop", "--delay", "-5"], "zero or more seconds"),
        (["submit", "noop", "--delay", "abc"], "'abc' is not a number"),
        (["submit", "noop", "--eta", "soon"], "'soon' is not a date and time"),
        (["submit", "noop", "--delay", "1", "--eta", "2030-01-01"], "not allowed with"),
        (["submit", "noop", "--huey", "no_such_mod:huey"], "No module named 'no_such_mod'"),
        (["show", "not-a-task"], "No task 'not-a-task'"),
        (["retry", "unknown-id"], "No task 'unknown-id' in the journal"),
        (["consumer", "--workers", "0"], "must be between 1 and 64"),
        (["consumer", "--retain-days", "-1"], "--retain-days must be a number of days"),
        (["submit", "noop", "--journal", "/no/such/dir/j"], "does not exist"),
        (["submit", "sleep_for", "--args", "[" * 5000 + "]" * 5000], "nested too deeply"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(env, args, message):
    proc = cli(env, *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert cli_json(env, "status")["pending"] == 0  # nothing half-made was enqueued


def test_corrupt_queue_file_is_explained(tmp_path):
    bad = tmp_path / "corrupt.db"
    bad.write_bytes(b"definitely not sqlite" * 200)
    proc = cli(env_for(bad), "status")
    assert proc.returncode == 2
    assert "cannot be opened (file is not a database); it is damaged" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_status_and_tasks_plain_text(env):
    cli_json(env, "submit", "noop")
    text = cli(env, "status").stdout
    assert "pending 1" in text and "workers: none reporting" in text
    listing = cli(env, "tasks").stdout
    assert "send_email(user_id: int" in listing and "every: */5 * * * *" in listing


def test_version_and_help():
    proc = cli(env_for_default(), "--version")
    assert proc.returncode == 0 and proc.stdout.startswith("huey-desk ")
    help_text = cli(env_for_default(), "--help").stdout
    for command in ("consumer", "submit", "status", "show"):
        assert command in help_text


def env_for_default():
    import os

    return dict(os.environ)


def test_json_outputs_are_single_objects(env):
    out = cli(env, "submit", "noop", "--json").stdout
    assert out.count("\n") == 1 and json.loads(out)["id"]


def test_consumer_stops_when_the_process_that_started_it_is_gone(env):
    # A stand-in for the window: starts a consumer with --parent-pid, then dies at once.
    code = (
        "import os, subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-m', 'desktop_app', 'consumer',"
        " '--parent-pid', str(os.getpid())])\n"
        "print(p.pid, flush=True)\n"
    )
    proc = run_python(env, code)
    consumer_pid = int(proc.stdout.strip())
    gone = wait_until(
        lambda: (
            not psutil.pid_exists(consumer_pid)
            or psutil.Process(consumer_pid).status() == psutil.STATUS_ZOMBIE
        ),
        timeout=20,
        what="the orphaned consumer to stop",
    )
    assert gone
    workers = cli_json(env, "status")["workers"]
    assert workers and {w["state"] for w in workers} == {"stopped"}  # a graceful stop
