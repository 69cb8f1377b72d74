"""Trust: a crafted pickle planted in the queue stays inert through every command, and a
signed queue's tampered message is flagged and never run by our consumer."""

from __future__ import annotations

import os
import sqlite3
import uuid

import pytest
from huey import SqliteHuey
from huey.registry import Message
from huey.serializer import Serializer, SignedSerializer

from tests.helpers import Consumer, cli, cli_json, env_for, wait_until


class Exploit:
    """Unpickled by ``pickle.loads``, this would create ``path``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def message(name: str, args: tuple, eta=None, task_id: str | None = None) -> Message:
    return Message(
        task_id or str(uuid.uuid4()), name, eta, 0, 0, None, args, {}, None, None, None, None
    )


def outcome(proc) -> None:
    """Answered or refused with a sentence: never an unexpected error."""
    assert proc.returncode in (0, 2), (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "unexpected error" not in proc.stderr


def test_crafted_pickles_are_inert_through_every_command(tmp_path):
    env = env_for(tmp_path / "queue.db")
    marker = tmp_path / "pwned"
    known = cli_json(env, "submit", "noop")["id"]  # in the journal, then made malicious
    later = cli_json(env, "submit", "noop", "--delay", "3600")["id"]
    finished = cli_json(env, "submit", "noop")["id"]
    storage = SqliteHuey("huey-desk", filename=str(tmp_path / "queue.db"))
    pickler = Serializer()
    exploit = pickler.serialize(Exploit(marker))
    conn = sqlite3.connect(tmp_path / "queue.db")
    with conn:
        # the queued messages of two known tasks (one delayed), arguments replaced by an
        # exploit (our own rows until now, so unpickling them here is safe)
        for table in ("task", "schedule"):
            for row_id, data in conn.execute(f"SELECT id, data FROM {table}").fetchall():
                old = pickler.deserialize(data)
                if old.id in (known, later):
                    new = message("tasks.demo.noop", (Exploit(marker),), old.eta, old.id)
                    conn.execute(
                        f"UPDATE {table} SET data = ? WHERE id = ?",
                        (pickler.serialize(new), row_id),
                    )
    conn.close()
    # and a row that is nothing but an exploit
    storage.storage.enqueue(exploit, 0)
    # a "result" that is an exploit, for a task the journal has seen finish
    cli(env, "revoke", finished)
    storage.storage.put_data(finished, exploit, is_result=True)
    storage.storage.close()

    commands = [
        ["status"],
        ["status", "--json"],
        ["tasks"],
        *[["show", t] for t in (known, later, finished)],
        *[["show", t, "--json"] for t in (known, later, finished)],
        ["show", finished, "--full"],
        *[[c, t] for c in ("retry", "revoke", "restore", "run-now") for t in (known, later)],
        ["retry", finished],
        ["run-now", later],
    ]
    for command in commands:
        outcome(cli(env, *command))
        assert not marker.exists(), command
    status = cli_json(env, "status")
    assert any("does not decode" in n for n in status["notes"]), status["notes"]
    assert "not decoded" in cli_json(env, "show", known)["queued"]["problem"]
    assert cli_json(env, "show", finished)["result"] == {"$repr": "<posix.system: not decoded>"}
    refused = cli(env, "run-now", later)
    assert refused.returncode == 2 and "does not decode" in refused.stderr
    assert not marker.exists()


@pytest.mark.consumer
def test_tampered_message_is_flagged_and_never_run(tmp_path):
    secret = "the real secret"
    env = env_for(tmp_path / "queue.db", HUEY_DESK_SECRET=secret)
    target = ("--huey", "tests.targets.signed:huey")
    bad_marker, good_marker, exploit_marker = (
        tmp_path / n for n in ("tampered-ran", "good-ran", "pwned")
    )
    forger = SqliteHuey(
        "signed",
        filename=str(tmp_path / "queue.db"),
        serializer=SignedSerializer(secret="a guess at the secret"),
    )
    tampered = message("tests.targets.signed.touch", (str(bad_marker),))
    forger.storage.enqueue(forger.serializer.serialize(tampered), 0)
    # an unsigned exploit: Huey checks the signature before it unpickles anything
    forger.storage.enqueue(
        Serializer().serialize(message("tests.targets.signed.touch", (Exploit(exploit_marker),))),
        0,
    )
    forger.storage.close()
    good = cli_json(env, "submit", "touch", "--args", f'["{good_marker}"]', *target)["id"]

    status = cli_json(env, "status", *target)
    assert status["pending"] == 3
    assert any("2 queued message(s) fail their signature check" in n for n in status["notes"])
    shown = cli_json(env, "show", tampered.id, *target)
    assert shown["task"] == "tests.targets.signed.touch"
    assert any("tampered" in n for n in shown["notes"])
    assert "note: the queued message: signature does not match (tampered" in (
        cli(env, "show", tampered.id, *target).stdout
    )
    refused = cli(env, "run-now", tampered.id, *target)
    assert refused.returncode == 2 and "fails its signature check" in refused.stderr

    consumer = Consumer(env, *target, "--no-periodic")
    try:
        info = wait_until(
            lambda: (i := cli_json(env, "show", good, *target))["state"] == "complete" and i,
            what="the good message to run",
        )
        assert info["result"] == str(good_marker) and good_marker.exists()
        wait_until(lambda: cli_json(env, "status", *target)["pending"] == 0)
        assert consumer.proc.poll() is None  # the consumer goes on
        again = cli_json(env, "submit", "touch", "--args", f'["{good_marker}2"]', *target)
        wait_until(
            lambda: cli_json(env, "show", again["id"], *target)["state"] == "complete",
            what="a later message to run",
        )
    finally:
        assert consumer.stop() == 0, consumer.output()[-3000:]
    assert not bad_marker.exists() and not exploit_marker.exists()
    assert "Signature" in consumer.output() or "Separator" in consumer.output()
