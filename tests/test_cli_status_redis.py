"""``status`` on Redis: a consumer that is gone is one line, not a dead worker per line;
``--redis URL`` without ``--name`` or with a wrong one says which names there are."""

from __future__ import annotations

import json
import os

import pytest
import redis
from huey import RedisHuey

from desktop_app.core.backends.redis.journal import RedisJournal
from desktop_app.core.inspector import Inspector
from tests import redis_server as _redis
from tests.helpers import ROOT, cli

redis_server = _redis.redis_server
redis_url = _redis.redis_url

NAME = "deskapp"


@pytest.fixture
def env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("HUEY_DESK_JOURNAL", None)
    return env


@pytest.fixture
def journal(redis_url):
    j = RedisJournal(url=redis_url, name=NAME)
    yield j
    j.close()


def consumer(journal, cid: str, host: str, workers: int) -> None:
    """A consumer of another host that registered and beat once, with its workers."""
    journal.register_consumer(
        cid, host=host, pid=4242, target="app:huey", worker_type="thread", workers=workers
    )
    journal.beat(cid, [(f"Worker-{n + 1}", 4242, True) for n in range(workers)])


def test_a_gone_consumer_is_one_line_and_a_live_ones_workers_are_listed(env, journal, redis_url):
    consumer(journal, "far:4242:1", "far", 4)
    consumer(journal, "near:4242:2", "near", 2)
    journal.client.delete(journal.prefix + "alive:far:4242:1")  # its heartbeat key expired
    huey = RedisHuey(NAME, url=redis_url)
    try:
        status = Inspector(huey, journal, "t").status()
    finally:
        huey.storage.pool.disconnect()
    [gone] = status["gone"]
    assert gone["consumer"] == "far:4242:1" and gone["workers"] == 4 and gone["host"] == "far"
    assert "far stopped beating" in gone["why"]
    assert sum(w["state"] == "dead" for w in status["workers"]) == 4  # still in the JSON
    proc = cli(env, "status", "--redis", redis_url, "--name", NAME)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    print(proc.stdout)
    assert not [line for line in lines if " dead " in line]  # no worker listed as dead
    [summary] = [line for line in lines if "is gone" in line]
    assert summary.startswith("  consumer on far (pid 4242) is gone, silent since ")
    assert summary.endswith(": its 4 workers no longer run")
    assert sum(line.strip().startswith("Worker-") for line in lines) == 2  # near's, live
    shown = json.loads(cli(env, "status", "--json", "--redis", redis_url, "--name", NAME).stdout)
    assert [g["workers"] for g in shown["gone"]] == [4]


def test_no_name_or_a_wrong_one_says_which_names_there_are(env, journal, redis_url):
    consumer(journal, "a:1:1", "a", 1)
    other = RedisJournal(url=redis_url, name="billing")
    other.register_consumer("b:1:1", host="b", pid=1, target="b:huey", workers=1)
    other.close()
    for args, head in (
        ((), "No --name was given and nothing at unix://"),
        (("--name", "desk-app"), "Nothing at unix://"),
    ):
        proc = cli(env, "status", "--redis", redis_url, *args)
        assert proc.returncode == 2, proc.stderr
        [line] = proc.stderr.strip().splitlines()  # one sentence, no traceback
        print(line)
        assert head in line
        assert "(the journals there are billing, deskapp)" in line
        assert "--name NAME, or attach with --huey MODULE:ATTR." in line
    assert cli(env, "status", "--redis", redis_url, "--name", NAME).returncode == 0


def test_an_empty_database_says_there_is_no_journal(env, redis_url):
    proc = cli(env, "status", "--redis", redis_url, "--name", "ghost")
    assert proc.returncode == 2
    assert "there is no Huey Desk journal there" in proc.stderr


def test_a_queue_named_huey_without_a_journal_needs_no_name(env, redis_url):
    """A stock consumer's queue of the default name: Huey's own keys are enough."""
    huey = RedisHuey("huey", url=redis_url)
    try:
        huey.storage.enqueue(b"not a message", None)
        proc = cli(env, "status", "--json", "--redis", redis_url)
    finally:
        huey.storage.pool.disconnect()
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pending"] == 1


def test_the_names_are_read_from_the_journals_keys(journal, redis_url):
    from desktop_app.core.backends.redis.names import journal_names

    consumer(journal, "a:1:1", "a", 1)
    client = redis.Redis.from_url(redis_url)
    try:
        client.xadd("huey-desk:{odd:name}:events", {"k": "v"})
        client.set("huey-desk:{notajournal}:other", "1")
        assert journal_names(client) == [NAME, "odd:name"]
    finally:
        client.close()
