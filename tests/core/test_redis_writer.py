"""The consumer's journal writer process reopens a Redis journal from a spec sent on its
standard input: the connection (and a password, if any) never appears on a command line."""

from __future__ import annotations

import psutil
from huey import RedisHuey

from desktop_app.core.backends import REDIS, JournalSpec, journal_for, journal_spec
from desktop_app.core.journal import COMPLETE, EXECUTING, NewEvent
from desktop_app.core.journal_writer import WriterProcess
from desktop_app.core.recorder import Recorder
from tests import redis_server as _redis

redis_server = _redis.redis_server
redis_url = _redis.redis_url


def test_a_redis_spec_carries_the_projects_connection_and_no_more(redis_url):
    socket_path = redis_url.split("://", 1)[1].split("?", 1)[0]
    huey = RedisHuey("shop", url=f"unix://:s3cret@{socket_path}?db=0")
    spec = journal_spec(huey)
    assert spec.kind == REDIS and spec.name == "shop"
    assert spec.connection["password"] == "s3cret"  # travels on stdin only
    assert spec.connection_class == "UnixDomainSocketConnection"
    assert "s3cret" not in spec.location
    assert JournalSpec.from_json(spec.to_json()) == spec
    huey.storage.pool.disconnect()


def test_the_writer_process_journals_into_redis(redis_url):
    huey = RedisHuey("shop", url=redis_url)
    spec = journal_spec(huey)
    writer = WriterProcess(spec)
    try:
        cmdline = " ".join(psutil.Process(writer.process.pid).cmdline())
        # nothing of the connection on the command line (a checkout's path may say redis)
        assert spec.connection["path"] not in cmdline and "unix://" not in cmdline
        writer.send(NewEvent(EXECUTING, "t1", "shop.job", consumer="c", worker="w"))
        writer.send(NewEvent(COMPLETE, "t1", "shop.job", consumer="c", worker="w"))
    finally:
        assert writer.close()
    journal = journal_for(huey)
    assert journal.task("t1")["state"] == COMPLETE
    journal.close()
    huey.storage.pool.disconnect()


def test_a_thread_writer_recorder_on_redis(redis_url):
    huey = RedisHuey("shop", url=redis_url)

    @huey.task()
    def add(a, b):
        return a + b

    recorder = Recorder(huey, journal_spec(huey), "consumer-1")
    recorder.install()
    huey.immediate = True  # runs here; the recorder writes from its thread
    try:
        result = add(2, 3)
        recorder.flush()
    finally:
        recorder.uninstall()
        recorder.close()
        huey.immediate = False
    journal = journal_for(huey)
    # immediate mode swaps in a memory storage; the journal is still the Redis one
    assert journal.task(result.id)["state"] == COMPLETE
    journal.close()
    huey.storage.pool.disconnect()
