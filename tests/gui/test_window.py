"""The real window on a temporary queue with a real consumer subprocess."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from desktop_app.core.target import load_target
from desktop_app.gui.app import Desk

pytestmark = pytest.mark.consumer


@pytest.fixture
def desk(qtbot, tmp_path):
    target = load_target("tasks:huey")
    # the default queue points at the session's test database; give this test its own
    journal = str(tmp_path / "journal.sqlite")
    d = Desk(target, journal, workers=2)
    qtbot.addWidget(d.window)
    d.start()
    qtbot.waitUntil(lambda: d.consumer.state == "running", timeout=20_000)
    yield d
    d.shutdown()


def states(model):
    return {model.row(i)["task_id"]: model.row(i)["state"] for i in range(model.rowCount())}


def test_submit_from_the_form_runs_to_completion(qtbot, desk):
    panel = desk.window.submit_panel
    panel.select_task("send_email")
    panel.findChild(object, "param-user_id").setValue(42)
    panel.findChild(object, "param-seconds").setValue(1.2)
    assert panel.submit_button.isEnabled()
    qtbot.mouseClick(panel.submit_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.submitted, timeout=10_000) as submitted:
        pass
    task_id = submitted.args[0]
    assert task_id in panel.result.text()
    workers = desk.window.workers_model

    def busy_with_it():
        rows = [workers.row(i) for i in range(workers.rowCount())]
        assert any(r["state"] == "busy" and r["task_id"] == task_id for r in rows)

    qtbot.waitUntil(busy_with_it, timeout=15_000)

    def completed():
        assert states(desk.window.tasks_model).get(task_id) == "complete"

    qtbot.waitUntil(completed, timeout=20_000)
    model = desk.window.tasks_model
    row = next(model.row(i) for i in range(model.rowCount()) if model.row(i)["task_id"] == task_id)
    assert row["result_preview"] == "\"sent 'Welcome aboard' to user 42\""
    assert "running" in desk.window.consumer_state.text()


def test_a_failure_shows_its_error(qtbot, desk):
    panel = desk.window.submit_panel
    panel.select_task("always_fail")
    panel.findChild(object, "param-message").setText("printer on fire")
    qtbot.mouseClick(panel.submit_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.submitted, timeout=10_000) as submitted:
        pass
    task_id = submitted.args[0]
    qtbot.waitUntil(
        lambda: states(desk.window.tasks_model).get(task_id) == "error", timeout=20_000
    )
    desk.window.state_combo.setCurrentText("error")
    view = desk.window.results_view
    assert view.model().rowCount() >= 1
    assert "printer on fire" in view.model().index(0, 6).data()


def test_bad_input_is_refused_inline(qtbot, desk):
    panel = desk.window.submit_panel
    panel.select_task("crunch_report")
    since = panel.findChild(object, "param-since")
    since.setText("not json")
    assert not panel.submit_button.isEnabled()
    assert "since is not valid JSON" in panel.error.text()
    since.setText('"2026-13-45"')
    assert "must be a date like" in panel.error.text()
    assert not panel.submit_button.isEnabled()
    since.setText('"2026-11-25"')
    assert panel.submit_button.isEnabled()
    assert panel.error.text() == ""
    panel.priority.setText("high")
    assert "Priority must be a number" in panel.error.text()
    assert not panel.submit_button.isEnabled()
