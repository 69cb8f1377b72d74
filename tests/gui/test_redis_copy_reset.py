"""The window on Redis when the shared journal is emptied: its tables empty with it."""

from __future__ import annotations

import time

from desktop_app.core.journal import COMPLETE
from tests import redis_server as _redis
from tests.gui.test_redis_window import finished_elsewhere, redis_desk, states

redis_server = _redis.redis_server
redis_url = _redis.redis_url
__all__ = ["redis_desk"]  # the fixture, shared with the other Redis window tests


def test_a_flushed_redis_empties_the_windows_tables_then_fills_them_again(qtbot, redis_desk):
    desk, shared = redis_desk
    window = desk.window
    said = []
    window.statusBar().messageChanged.connect(said.append)
    desk.start()
    qtbot.waitUntil(
        lambda: all(states(window.tasks_model).get(f"old-{n}") == COMPLETE for n in range(3)),
        timeout=10_000,
    )
    assert window.tasks_model.rowCount() == 3
    shared.client.flushdb()  # FLUSHDB (or a restart without persistence) empties it all
    qtbot.waitUntil(lambda: window.tasks_model.rowCount() == 0, timeout=10_000)
    qtbot.waitUntil(lambda: any("was emptied" in m for m in said), timeout=10_000)
    assert states(window.tasks_model) == {}
    # the counts read the emptied journal: nothing in any state
    qtbot.waitUntil(lambda: "complete" not in window.counts.text(), timeout=10_000)
    # what arrives in the new journal shows, and only that
    shared.append(finished_elsewhere("after-flush", time.time()))
    qtbot.waitUntil(
        lambda: states(window.tasks_model) == {"after-flush": COMPLETE}, timeout=10_000
    )
    assert window.tasks_model.rowCount() == 1
