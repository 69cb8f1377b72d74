"""The tasks panel: filters in the words users see, applied with the store's names."""

from __future__ import annotations

import time

from desktop_app.core.states import FILTER_STATES, label
from desktop_app.gui.task_history import TasksModel
from desktop_app.gui.tasks_panel import TasksPanel


def make(qtbot):
    model = TasksModel()
    panel = TasksPanel(model, [], None)
    qtbot.addWidget(panel)
    return model, panel


def test_the_state_filter_lists_words_and_queries_stored_names(qtbot):
    model, panel = make(qtbot)
    combo = panel.state_combo
    shown = [combo.itemText(i) for i in range(1, combo.count())]
    assert shown == [label(s) for s in FILTER_STATES]
    assert "complete" not in shown and "error" not in shown
    combo.setCurrentText("failed")
    assert model.query.state == "error"
    combo.setCurrentText("running")
    assert model.query.state == "executing"
    combo.setCurrentIndex(0)
    assert model.query.state is None


def test_the_title_counts_in_the_words_users_see(qtbot):
    _, panel = make(qtbot)
    panel.show_status({"counts": {"complete": 3, "error": 1}, "states": {}})
    assert "3 done, 1 failed" in panel.label.text()


def test_the_title_counts_interrupted_and_other_ends_so_the_parts_add_up(qtbot):
    _, panel = make(qtbot)
    counts = {"complete": 3, "error": 1, "interrupted": 2, "revoked": 4, "expired": 1}
    panel.show_status({"counts": counts, "states": {}})
    text = panel.label.text()
    assert "3 done, 1 failed, 2 interrupted, 5 other" in text
    panel.show_status({"counts": {"complete": 3, "error": 0}, "states": {}})
    assert "interrupted" not in panel.label.text() and "other" not in panel.label.text()


def test_the_when_filter_asks_for_tasks_since_a_moment(qtbot):
    model, panel = make(qtbot)
    assert model.query.since is None
    before = time.time()
    panel.since_combo.setCurrentText("last hour")
    assert before - 3600 <= model.query.since <= time.time() - 3600
    assert not model.query.counted  # a time filter needs a count of its own
    panel.since_combo.setCurrentIndex(0)
    assert model.query.since is None
