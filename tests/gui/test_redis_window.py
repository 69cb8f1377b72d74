"""The window on a Redis-backed queue: its history is a local copy of the shared journal."""

from __future__ import annotations

import time

import pytest
from huey import RedisHuey

from desktop_app.core.backends import journal_for
from desktop_app.core.journal import (
    COMPLETE,
    ENQUEUED,
    EXECUTING,
    INTERRUPTED,
    NewEvent,
    SqliteJournal,
)
from desktop_app.core.target import Target
from desktop_app.gui.app import Desk
from tests import redis_server as _redis

redis_server = _redis.redis_server
redis_url = _redis.redis_url


def states(model):
    return {r["task_id"]: r["state"] for r in model.loaded_rows()}


def finished_elsewhere(task_id: str, t0: float) -> list[NewEvent]:
    """A task another machine's consumer ran, as its events reached the shared journal."""
    where = {"pid": 9, "worker": "Worker-1", "consumer": "other-host:9:1"}
    return [
        NewEvent(ENQUEUED, task_id, "app.add", t0, data={"args_preview": "1, 2"}),
        NewEvent(EXECUTING, task_id, "app.add", t0 + 1, **where),
        NewEvent(COMPLETE, task_id, "app.add", t0 + 2, data={"result_preview": "3"}, **where),
    ]


@pytest.fixture
def redis_desk(qtbot, tmp_path, redis_url):
    huey = RedisHuey("deskwin", url=redis_url)

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    shared = journal_for(huey)
    assert not isinstance(shared, SqliteJournal)
    t0 = time.time() - 60
    for n in range(3):
        shared.append(finished_elsewhere(f"old-{n}", t0 + n))
    target = Target(spec="deskwin:huey", module="deskwin", attr="huey", huey=huey)
    desk = Desk(target, str(tmp_path / "mirror.sqlite"), start_consumer=False, shared=shared)
    qtbot.addWidget(desk.window)
    yield desk, shared
    desk.shutdown()
    shared.close()
    huey.storage.pool.disconnect()


def test_history_written_by_other_machines_and_new_work_both_show(qtbot, redis_desk):
    desk, shared = redis_desk
    window = desk.window
    desk.start()
    # (the monitor's signals come from its thread: waited for through what the window shows)
    qtbot.waitUntil(
        lambda: "history is up to date" in window.statusBar().currentMessage(), timeout=10_000
    )
    qtbot.waitUntil(
        lambda: all(states(window.tasks_model).get(f"old-{n}") == COMPLETE for n in range(3)),
        timeout=10_000,
    )
    # submitted from this window: journalled in Redis, seen here through the copy
    task_id = window.dispatcher.submit("add", [1, 2])
    assert shared.task(task_id)["state"] == ENQUEUED
    qtbot.waitUntil(lambda: states(window.tasks_model).get(task_id) == ENQUEUED, timeout=10_000)
    # a later event from another machine arrives as it would live
    shared.append(finished_elsewhere("live-1", time.time()))
    qtbot.waitUntil(lambda: states(window.tasks_model).get("live-1") == COMPLETE, timeout=10_000)
    qtbot.waitUntil(lambda: window.counts.text().startswith("pending 1"), timeout=10_000)


def test_a_long_first_copy_goes_a_batch_a_tick_and_says_so(qtbot, redis_desk, monkeypatch):
    from desktop_app.gui import monitor as monitor_mod

    monkeypatch.setattr(monitor_mod, "MIRROR_BATCH", 2)  # 9 events: five ticks
    desk, _shared = redis_desk
    window = desk.window
    said = []
    window.statusBar().messageChanged.connect(said.append)
    desk.start()
    qtbot.waitUntil(
        lambda: "history is up to date (9 events" in window.statusBar().currentMessage(),
        timeout=10_000,
    )
    assert any("Copying the shared journal" in m for m in said)
    qtbot.waitUntil(
        lambda: all(states(window.tasks_model).get(f"old-{n}") == COMPLETE for n in range(3)),
        timeout=10_000,
    )


def test_a_task_of_a_machine_that_stopped_beating_shows_interrupted(qtbot, redis_desk):
    """The window recovers on Redis too: the other host's heartbeat key has expired."""
    desk, shared = redis_desk
    consumer = "other-host:9:1"
    shared.register_consumer(consumer, host="other-host", pid=9, target="t", workers=1)
    shared.append(finished_elsewhere("cut-short", time.time())[:2])  # started, never ended
    shared.client.delete(f"{shared.prefix}alive:{consumer}")  # its heartbeat key expired
    assert shared.heartbeat_expired(consumer)
    desk.start()
    window = desk.window
    qtbot.waitUntil(
        lambda: states(window.tasks_model).get("cut-short") == INTERRUPTED, timeout=15_000
    )
    assert "other-host" in shared.task("cut-short")["error"]


def test_a_desk_never_started_shuts_down_at_once(redis_desk):
    """(The fixture's shutdown runs on a desk whose monitor thread never started.)"""
    desk, _shared = redis_desk
    assert not desk.thread.isRunning()
