"""The one rule for who is gone, and so for which running task was interrupted."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from desktop_app.core.journal import SqliteJournal
from desktop_app.core.liveness import (
    REMOTE_STALE_AFTER_S,
    SETTLE_S,
    Liveness,
    parse_consumer_id,
    process_alive,
)

HOST = "this-host"
STARTED = psutil.Process().create_time()  # consumers "started" with this test process


@pytest.fixture
def journal(tmp_path):
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    yield journal
    journal.close()


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def register(journal, consumer_id, host, pid, beat_age=0.0, stopped=False):
    journal.register_consumer(consumer_id, host=host, pid=pid)
    conn = journal.connection()
    now = time.time()
    conn.execute(
        "UPDATE consumers SET last_beat = ?, started_at = ?, stopped_at = ? WHERE consumer_id = ?",
        (now - beat_age, STARTED, now if stopped else None, consumer_id),
    )


def test_the_rule(journal):
    register(journal, "alive", HOST, os.getpid(), beat_age=30)
    register(journal, "stopped", HOST, os.getpid(), stopped=True)
    register(journal, "died", HOST, dead_pid(), beat_age=SETTLE_S + 1)
    register(journal, "just-died", HOST, dead_pid(), beat_age=0)
    register(journal, "far-silent", "other-host", 123, beat_age=REMOTE_STALE_AFTER_S + 5)
    register(journal, "far-recent", "other-host", 123, beat_age=10)
    live = Liveness(journal, HOST)
    # a live local process counts as running however long it has been silent
    assert live.consumer_gone("alive") is None
    assert live.consumer_gone("stopped") == "the consumer was stopped"
    assert live.consumer_gone("died") == "the consumer died"
    # its writer may still be draining: not yet
    assert live.consumer_gone("just-died") is None
    assert "on other-host has been silent" in live.consumer_gone("far-silent")
    # a pid means nothing on another host: only the heartbeat counts
    assert live.consumer_gone("far-recent") is None
    assert live.consumer_gone("not-an-id") == "the consumer is unknown"
    assert live.consumer_gone(f"elsewhere:1:{int(time.time() * 1000)}") is None


def test_a_running_task_is_interrupted_only_when_its_consumer_is_gone(journal):
    register(journal, "alive", HOST, os.getpid())
    register(journal, "died", HOST, dead_pid(), beat_age=SETTLE_S + 1)
    live = Liveness(journal, HOST)
    assert live.interrupted({"state": "executing", "consumer": "alive"}) is None
    assert live.interrupted({"state": "executing", "consumer": "died"}) == "the consumer died"
    assert live.interrupted({"state": "complete", "consumer": "died"}) is None
    assert live.interrupted(None) is None


def test_process_alive_and_consumer_ids():
    assert process_alive(os.getpid())
    assert process_alive(os.getpid(), started_by=STARTED)
    assert not process_alive(os.getpid(), started_by=STARTED - 3600)  # a reused pid
    assert not process_alive(dead_pid())
    assert not process_alive(None)
    assert parse_consumer_id("h:1:2000") == ("h", 1, 2.0)
    assert parse_consumer_id("nonsense") == (None, None, None)


class ExpiryJournal(SqliteJournal):
    """A journal that can tell heartbeat expiry (as Redis's ``alive`` keys do)."""

    expired: dict[str, bool] = {}

    def heartbeat_expired(self, consumer_id):
        return self.expired.get(consumer_id)


def test_a_remote_consumer_is_gone_when_the_journal_says_its_heartbeat_expired(tmp_path):
    journal = ExpiryJournal(tmp_path / "j.sqlite")
    try:
        journal.expired = {"far-expired": True, "far-live": False}
        # the beat times say the opposite: the journal's own clock wins
        register(journal, "far-expired", "other-host", 123, beat_age=1)
        register(journal, "far-live", "other-host", 123, beat_age=REMOTE_STALE_AFTER_S + 5)
        register(journal, "here-expired", HOST, os.getpid())
        journal.expired["here-expired"] = True
        live = Liveness(journal, HOST)
        assert "on other-host stopped beating" in live.consumer_gone("far-expired")
        assert live.consumer_gone("far-live") is None
        # on this host the process is what counts, never a pid elsewhere
        assert live.consumer_gone("here-expired") is None
    finally:
        journal.close()


def test_sqlite_cannot_tell_expiry_so_the_remote_rule_is_silence(journal):
    register(journal, "far", "other-host", 123, beat_age=1)
    assert journal.heartbeat_expired("far") is None
    assert Liveness(journal, HOST).consumer_gone("far") is None


def test_host_name_can_be_set_for_containers_and_tests(monkeypatch):
    from desktop_app.core.liveness import host_name

    monkeypatch.setenv("HUEY_DESK_HOST", "box-7")
    assert host_name() == "box-7"
    monkeypatch.delenv("HUEY_DESK_HOST")
    import socket

    assert host_name() == socket.gethostname()
