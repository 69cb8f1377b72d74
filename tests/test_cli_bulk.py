"""``huey-desk retry`` / ``revoke`` in bulk: a real consumer fails the tasks, the filter
picks them, a dry run changes nothing, a second run enqueues nothing twice; bad input is
one sentence and exit 2."""

from __future__ import annotations

import json

import pytest

from desktop_app.core.paths import ensure_private_file
from tests.helpers import Consumer, cli, cli_json, env_for, run_python, wait_until


@pytest.fixture
def env(tmp_path):
    return env_for(ensure_private_file(tmp_path / "queue.db"))


def produce(env, code: str) -> list[str]:
    """Enqueue from a plain Huey producer; the ids it made."""
    proc = run_python(env, "import json\nfrom tasks.demo import *\n" + code)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def run_consumer_until(env, done) -> None:
    """A real consumer runs the queue until ``done(status)`` holds, then stops."""
    consumer = Consumer(env, "--workers", "2", "--no-periodic")  # no stray tidy_temp_files
    try:
        wait_until(lambda: done(cli_json(env, "status")), what="the consumer to get there")
    finally:
        assert consumer.stop() == 0, consumer.output()


@pytest.mark.consumer
def test_bulk_retry_of_what_failed_enqueues_each_once(env):
    failing = produce(env, "print(json.dumps([always_fail(f'bad {i}').id for i in range(12)]))")
    produce(env, "print(json.dumps([noop().id for i in range(3)]))")
    run_consumer_until(
        env, lambda s: s["counts"].get("error") == 12 and s["counts"].get("complete") == 3
    )
    args = ("retry", "--state", "failed", "--task", "always_fail", "--since", "1h")
    dry = cli_json(env, *args, "--dry-run", "--show", "5")
    assert dry["dry_run"] and dry["total"] == 12 and len(dry["tasks"]) == 5
    assert {t["task_id"] for t in dry["tasks"]} <= set(failing)
    assert cli_json(env, "status")["pending"] == 0  # the dry run enqueued nothing
    text = cli(env, *args, "--dry-run")
    assert text.returncode == 0 and text.stdout.startswith("Would retry 12 tasks (failed")
    first = cli_json(env, *args)
    assert (first["total"], first["done"], first["skipped"]) == (12, 12, 0)
    second = cli_json(env, *args)
    assert (second["done"], second["skipped"]) == (0, 12)
    assert cli_json(env, "status")["pending"] == 12  # once each, not twice
    assert cli(env, *args).stdout.strip() == "Retried 0 of 12 tasks; 12 already retried."
    # the consumer runs the retries (which fail again): 12 new failures, each a retry of one
    run_consumer_until(env, lambda s: s["counts"].get("error") == 24 and s["pending"] == 0)
    retries = cli_json(
        env, "retry", "--state", "failed", "--since", "1h", "--dry-run", "--show", "64"
    )["tasks"]
    new = [t["task_id"] for t in retries if t["task_id"] not in failing]
    links = sorted(cli_json(env, "show", t)["retry_of"] for t in new)
    assert links == sorted(failing)
    one = cli_json(env, "retry", new[0])  # retry by id works as it did
    assert one["retry_of"] == new[0]


def test_bulk_revoke_of_what_waits(env):
    later = produce(env, "print(json.dumps([noop.schedule(delay=3600).id for i in range(4)]))")
    # a plain producer's tasks are unknown to the journal until a consumer sees them: by id
    result = cli_json(env, "revoke", *later)
    assert (result["total"], result["done"]) == (4, 4)
    mine = [cli_json(env, "submit", "noop", "--delay", "3600")["id"] for _ in range(3)]
    dry = cli_json(env, "revoke", "--state", "scheduled", "--dry-run")
    assert dry["total"] == 3 and {t["task_id"] for t in dry["tasks"]} == set(mine)
    done = cli_json(env, "revoke", "--state", "scheduled")
    assert done["done"] == 3
    assert {cli_json(env, "show", t)["state"] for t in mine} == {"revoked"}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("retry", "--task", "nope"), "Unknown task 'nope'; known tasks:"),
        (("retry", "--since", "1x"), "'1x' is neither a duration nor a time; use a form like"),
        (("retry", "--until", "tomorrow"), "'tomorrow' is neither a duration nor a time"),
        (("retry", "--state", "pending"), "'pending' is not a state tasks can be retried from"),
        (("revoke", "--state", "failed"), "'failed' is not a state tasks can be revoked from"),
        (("retry",), "Give a task id, or a filter of the tasks to retry"),
        (("retry", "abcd1234", "--state", "failed"), "Give either task ids or a filter"),
        (("retry", "--since", "1h", "--until", "2h"), "comes after --until 2h; swap them"),
        (("retry", "--state", "failed", "--show", "0", "--dry-run"), "must be between 1"),
        (
            ("retry", "--state", "failed", "--redis", "redis://127.0.0.1:1/0"),
            "Retrying in bulk needs the tasks' code",
        ),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(env, args, said):
    proc = cli(env, *args)
    assert proc.returncode == 2, proc.stderr
    assert said in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert cli_json(env, "status")["pending"] == 0
