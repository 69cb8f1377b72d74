"""A ``RedisExpireHuey`` end to end, against a real redis-server: results under keys of
their own (``huey.r.NAME.ID``, with an expiry) instead of one hash.  The consumer runs
and journals its tasks; ``status`` and ``show`` peek the results from those keys, with
``--huey`` and with ``--redis`` (which finds the kind from the keys), and consume
nothing; revoke flags (keys of their own too, without expiry) are not counted as results.
"""

from __future__ import annotations

import json

import pytest
import redis
from huey import RedisExpireHuey

from desktop_app.core.backends.reader import reader_for
from desktop_app.core.backends.redis.journal import RedisJournal
from desktop_app.core.journal import COMPLETE, ERROR
from desktop_app.core.safe_decode import decode, decode_message
from desktop_app.core.target import load_redis_target
from tests import redis_server as _redis
from tests.helpers import Consumer, cli, env_for, run_python, wait_until

redis_server = _redis.redis_server
redis_url = _redis.redis_url

pytestmark = pytest.mark.consumer

TARGET = "tests.targets.redis_app:huey"
NAME = "desk-redis"
RESULT = "huey.r.deskredis."  # Huey's expiring result keys (its cleaned name)


@pytest.fixture
def env(tmp_path, redis_url):
    return env_for(
        tmp_path / "queue.db", HUEY_DESK_REDIS_URL=redis_url, HUEY_DESK_REDIS_EXPIRE="1"
    )


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def submit(env, calls: str) -> list:
    code = f"import json\nfrom tests.targets.redis_app import add\nprint(json.dumps({calls}))\n"
    proc = run_python(env, code)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def cli_ok(env, *args: str) -> dict:
    proc = cli(env, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_an_expire_huey_runs_and_its_results_are_peeked_from_their_own_keys(
    env, client, redis_url
):
    journal = RedisJournal(url=redis_url, name=NAME)
    consumer = Consumer(env, "--huey", TARGET, "--workers", "2")
    try:
        ids = submit(env, "[add(i, 10).id for i in range(5)] + [add('x', 1).id]")
        wait_until(
            lambda: [r["state"] for r in journal.tasks_by_ids(ids)] == [COMPLETE] * 5 + [ERROR],
            what="five sums done and one failed, in the Redis journal",
        )
    finally:
        assert consumer.stop() == 0, consumer.output()
        journal.close()
    # Huey's layout for this kind: a key per result, with an expiry; no results hash
    assert not client.exists("huey.results.deskredis")
    ttls = {i: client.ttl(RESULT + i) for i in ids}
    assert all(ttl > 0 for ttl in ttls.values()), ttls
    # a revoked scheduled task: its flag is a key of the same prefix, not a result
    [later] = submit(env, "[add.schedule((1, 1), delay=3600).id]")
    by_code = ("--huey", TARGET)
    by_url = ("--redis", redis_url, "--name", NAME)
    assert cli(env, "revoke", later, *by_url).returncode == 0
    assert client.exists(RESULT + "r:" + later)
    for how in (by_code, by_url):
        status = cli_ok(env, "status", *how)
        assert status["results"] == 6, how  # the flag left out
        assert status["pending"] == 1 and status["counts"][COMPLETE] == 5, how
        done = cli_ok(env, "show", ids[2], *how)
        assert done["state"] == COMPLETE and done["result"] == 12, how
        failed = cli_ok(env, "show", ids[5], *how)
        assert failed["state"] == ERROR and "TypeError" in failed["traceback"], how
        assert cli_ok(env, "show", later[:8], *how)["state"] == "revoked", how
    # peeked, never consumed: every result is still there, its expiry untouched
    assert all(0 < client.ttl(RESULT + i) <= ttls[i] for i in ids)
    assert cli(env, "restore", later, *by_url).returncode == 0
    assert not client.exists(RESULT + "r:" + later)


def test_attach_by_url_finds_the_expiring_kind_and_reads_without_consuming(env, client, redis_url):
    ids = submit(env, "[add(i, 1).id for i in range(3)]")
    # Huey stores a result (as a consumer would): the kind is known from its key
    code = "from tests.targets.redis_app import huey, add\nhuey.execute(add.s(2, 2))\n"
    assert run_python(env, code).returncode == 0
    target = load_redis_target(redis_url, NAME)
    try:
        assert type(target.huey) is RedisExpireHuey
        reader = reader_for(target.huey)
        assert reader.pending_count() == 3 and reader.results_count() == 1
        pages = reader.pending_page(0, 2) + reader.pending_page(2, 2)
        assert [decode_message(target.huey.serializer, b).id for b in pages] == ids
        [stored] = [k[len(RESULT) :].decode() for k in client.keys(RESULT + "*")]
        [(key, raw)] = reader.peek_many([stored, "nothing"]).items()
        assert decode(target.huey.serializer, raw).value == 4  # no project code here
        assert reader.result_ids(key[:6], 5) == {key}
        assert reader.pending_count() == 3 and client.exists(RESULT + key)
    finally:
        target.huey.storage.pool.disconnect()
