"""The window's consumer process: start, graceful stop, restart after a crash, bad target."""

from __future__ import annotations

import os
import signal

import pytest

from desktop_app.core.journal import SqliteJournal
from desktop_app.gui.consumer_process import ConsumerProcess

pytestmark = pytest.mark.consumer


@pytest.fixture
def journal(tmp_path):
    return str(tmp_path / "journal.sqlite")


def beating(journal_path: str, pid: int | None) -> bool:
    """The consumer ``pid`` has beaten: it is in its main loop, its signal handlers set."""
    journal = SqliteJournal(journal_path)
    try:
        return any(
            c["pid"] == pid and c["last_beat"] > c["started_at"] for c in journal.consumers()
        )
    finally:
        journal.close()


def test_start_stop_and_restart_after_a_kill(qtbot, journal):
    consumer = ConsumerProcess("tasks:huey", workers=1, journal=journal)
    states = []
    consumer.state_changed.connect(lambda s: states.append((s, consumer.pid)))
    try:
        with qtbot.waitSignal(
            consumer.state_changed, check_params_cb=lambda s: s == "running", timeout=20_000
        ):
            consumer.start()
        first = consumer.pid
        qtbot.waitUntil(
            lambda: any("journalling to" in line for line in consumer.lines), timeout=20_000
        )
        os.kill(first, signal.SIGKILL)
        qtbot.waitUntil(lambda: consumer.state == "crashed", timeout=10_000)
        assert any("restarting it in 1 s" in line for line in consumer.lines)
        qtbot.waitUntil(
            lambda: consumer.state == "running" and consumer.pid != first, timeout=20_000
        )
        # up and beating: its signal handlers are set, so SIGINT now means a graceful stop
        qtbot.waitUntil(lambda: beating(journal, consumer.pid), timeout=20_000)
        with qtbot.waitSignal(
            consumer.state_changed, check_params_cb=lambda s: s == "stopped", timeout=35_000
        ):
            consumer.stop()
        assert any("Consumer exiting" in line for line in consumer.lines), states
    finally:
        consumer.wait_stopped(5000)


def test_a_bad_target_is_not_restarted(qtbot, journal):
    consumer = ConsumerProcess("tasks.nothing_here:huey", workers=1, journal=journal)
    with qtbot.waitSignal(
        consumer.state_changed, check_params_cb=lambda s: s == "crashed", timeout=20_000
    ):
        consumer.start()
    assert any("cannot start" in line and "No module named" in line for line in consumer.lines)
    assert not consumer.restart_timer.isActive()
