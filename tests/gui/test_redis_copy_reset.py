"""The window on Redis when the shared journal is emptied: its tables empty with it."""

from __future__ import annotations

import sqlite3
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


def test_the_search_index_keeps_up_with_a_long_first_copy(qtbot, redis_desk, monkeypatch):
    """Tasks copied a batch per tick are indexed like streamed ones: the index's event
    cursor reaches the copy's last event, so a text filter does not look through every
    task the copy changed."""
    from desktop_app.core.search_index import index_path
    from desktop_app.gui import monitor as monitor_mod

    monkeypatch.setattr(monitor_mod, "MIRROR_BATCH", 2)  # 9 events: five ticks
    desk, _shared = redis_desk
    window = desk.window
    desk.start()
    qtbot.waitUntil(
        lambda: "history is up to date" in window.statusBar().currentMessage(), timeout=10_000
    )
    path = index_path(desk.monitor.journal_path)
    local = sqlite3.connect(desk.monitor.journal_path)
    last = local.execute("SELECT max(id) FROM events").fetchone()[0]
    local.close()

    def applied() -> int:
        if not path.exists():
            return 0
        index = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = index.execute("SELECT value FROM meta WHERE key = 'event'").fetchone()
        except sqlite3.Error:
            row = None
        finally:
            index.close()
        return row[0] if row else 0

    qtbot.waitUntil(lambda: applied() >= last, timeout=10_000)
