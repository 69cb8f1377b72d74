"""The real window on a temporary queue with a real consumer subprocess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt

from desktop_app.core.target import load_target
from desktop_app.gui.app import Desk
from desktop_app.gui.consumer_process import LOG_LINES

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
    return {r["task_id"]: r["state"] for r in model.loaded_rows()}


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
    assert "should start" in panel.result.text()
    workers = desk.window.workers_model

    def busy_with_it():
        rows = [workers.row(i) for i in range(workers.rowCount())]
        assert any(r["state"] == "busy" and r["task_id"] == task_id for r in rows)

    qtbot.waitUntil(busy_with_it, timeout=15_000)

    def progress_shown():
        rows = [workers.row(i) for i in range(workers.rowCount())]
        assert any(r["task_id"] == task_id and (r.get("progress") or 0) > 0 for r in rows)

    qtbot.waitUntil(progress_shown, timeout=15_000)
    desk.window.workers_view.grab()  # paints the progress bar delegate

    def completed():
        assert states(desk.window.tasks_model).get(task_id) == "complete"

    qtbot.waitUntil(completed, timeout=20_000)
    model = desk.window.tasks_model
    row = model.row(model.row_number(task_id))
    assert row["result_preview"] == "\"sent 'Welcome aboard' to user 42\""
    qtbot.waitUntil(lambda: "CPU" in desk.window.consumer_state.text(), timeout=10_000)
    assert "MB" in desk.window.consumer_state.text()


def test_a_failure_shows_its_error(qtbot, desk):
    panel = desk.window.submit_panel
    panel.select_task("always_fail")
    panel.findChild(object, "param-message").setText("printer on fire")
    qtbot.mouseClick(panel.submit_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.submitted, timeout=10_000) as submitted:
        pass
    task_id = submitted.args[0]
    notifier = desk.window.notifier
    qtbot.waitUntil(lambda: notifier.failures_unseen >= 1, timeout=20_000)
    if notifier.tray is None:  # offscreen: the notification is in the status bar
        assert "always_fail failed" in desk.window.statusBar().currentMessage()
    qtbot.waitUntil(
        lambda: states(desk.window.tasks_model).get(task_id) == "error", timeout=20_000
    )
    model = desk.window.tasks_model
    desk.window.state_combo.setCurrentText("failed")  # filtered in the store
    qtbot.waitUntil(
        lambda: model.shown_generation == model.generation and model.row(0) is not None,
        timeout=10_000,
    )
    assert {r["state"] for r in model.loaded_rows()} == {"error"}
    assert "printer on fire" in desk.window.results_view.model().index(0, 6).data()
    # a header click sorts in the store: the failures by task id, then back to newest first
    header = desk.window.results_view.horizontalHeader()
    header.setSortIndicator(7, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(
        lambda: (
            model.query.order == "task_id"
            and model.shown_generation == model.generation
            and model.row(0) is not None
        ),
        timeout=10_000,
    )
    shown = [r["task_id"] for r in model.loaded_rows()]
    assert shown == sorted(shown)
    desk.window.newest_first()
    qtbot.waitUntil(lambda: model.query.live, timeout=5_000)
    desk.window.text_filter.setText("no such text anywhere")
    qtbot.waitUntil(lambda: model.query.text == "no such text anywhere", timeout=5_000)
    qtbot.waitUntil(
        lambda: model.shown_generation == model.generation and model.rowCount() == 0,
        timeout=10_000,
    )


def test_bad_input_is_refused_inline(qtbot, desk):
    panel = desk.window.submit_panel
    panel.select_task("crunch_report")
    # an optional date: a date widget with "none" (its default) beside it
    assert panel.findChild(object, "param-since-none").isChecked()
    panel.findChild(object, "param-since-none").setChecked(False)
    assert panel.submit_button.isEnabled()
    assert panel.error.text() == ""
    panel.priority.setText("high")
    assert "Priority must be a number" in panel.error.text()
    assert not panel.submit_button.isEnabled()


def select_task_row(qtbot, window, task_id):
    view = window.results_view
    model = view.model()

    def row_of():
        for r in range(model.rowCount()):
            if model.index(r, 7).data() == task_id:
                return r
        return None

    qtbot.waitUntil(lambda: row_of() is not None, timeout=20_000)
    view.setCurrentIndex(QModelIndex())  # as a click does, even if the row was current
    view.setCurrentIndex(model.index(row_of(), 0))


def test_details_retry_and_edit_of_a_failure(qtbot, desk):
    window = desk.window
    task_id = window.dispatcher.submit("always_fail", ["disk full"])
    qtbot.waitUntil(lambda: states(window.tasks_model).get(task_id) == "error", timeout=20_000)
    select_task_row(qtbot, window, task_id)
    details = window.details
    qtbot.waitUntil(
        lambda: details.info is not None and details.info["id"] == task_id, timeout=10_000
    )
    assert "RuntimeError: disk full" in details.text.toPlainText()
    kinds = [
        details.timeline.topLevelItem(i).text(1)
        for i in range(details.timeline.topLevelItemCount())
    ]
    assert kinds[0] == "pending" and kinds[-1] == "failed"
    assert details.retry_button.isEnabled() and not details.revoke_button.isEnabled()
    qtbot.mouseClick(details.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: any(r.get("retry_of") == task_id for r in window.tasks_model.loaded_rows()),
        timeout=20_000,
    )
    qtbot.mouseClick(details.edit_button, Qt.MouseButton.LeftButton)
    panel = window.submit_panel
    assert panel.task.short_name == "always_fail"
    assert panel.findChild(object, "param-message").text() == "disk full"


def test_revoke_restore_and_flush_from_the_queue(qtbot, desk, monkeypatch):
    window = desk.window
    ids = [window.dispatcher.submit("noop", [], delay=3600 + i) for i in range(3)]
    queue = window.queue_model

    def queued_ids():
        return {r.get("id") for r in queue.loaded_rows()}

    qtbot.waitUntil(lambda: set(ids) <= queued_ids(), timeout=20_000)
    view = window.queue_view
    row = next(
        r for r in range(view.model().rowCount()) if view.model().index(r, 6).data() == ids[0]
    )
    view.selectRow(row)
    qtbot.mouseClick(window.revoke_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: "Revoked 1 task" in window.statusBar().currentMessage(), timeout=10_000
    )
    assert window.dispatcher.huey.is_revoked(ids[0])
    qtbot.waitUntil(  # the queue panel says so
        lambda: any(r.get("id") == ids[0] and r.get("revoked") for r in queue.loaded_rows()),
        timeout=10_000,
    )
    row = window.queue_model.row_number(ids[0])
    assert window.queue_model.index(row, 0).data().endswith(", revoked")
    window.queue_model.set_text(ids[0][:13])  # a filtered view marks it too
    qtbot.waitUntil(
        lambda: (
            queue.shown_generation == queue.generation
            and [(r["id"], r["revoked"]) for r in queue.loaded_rows()] == [(ids[0], True)]
        ),
        timeout=10_000,
    )
    window.queue_model.set_text("")
    qtbot.waitUntil(
        lambda: queue.shown_generation == queue.generation and ids[0] in queued_ids(),
        timeout=10_000,
    )
    view.selectRow(window.queue_model.row_number(ids[0]))  # a new view: select it again
    qtbot.mouseClick(window.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: "Restored 1 task" in window.statusBar().currentMessage(), timeout=10_000
    )
    assert not window.dispatcher.huey.is_revoked(ids[0])
    monkeypatch.setattr(window, "confirm", lambda question: "cannot be undone" in question)
    qtbot.mouseClick(window.flush_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not (set(ids) & queued_ids()), timeout=20_000)


def test_recent_submissions_refill_the_form(qtbot, desk):
    panel = desk.window.submit_panel
    panel.select_task("make_thumbnail")
    panel.findChild(object, "param-path").setText("cat.png")
    panel.findChild(object, "param-size").setValue(64)
    with qtbot.waitSignal(panel.submitted, timeout=10_000):
        qtbot.mouseClick(panel.submit_button, Qt.MouseButton.LeftButton)
    panel.select_task("noop")
    assert panel.recent.count() >= 2
    assert panel.recent.itemText(1).startswith('make_thumbnail(path="cat.png", size=64)')
    panel.recent.activated.emit(1)
    assert panel.task.short_name == "make_thumbnail"
    assert panel.findChild(object, "param-path").text() == "cat.png"
    assert panel.findChild(object, "param-size").value() == 64


def test_pending_until_the_consumer_is_started_then_done_and_told(qtbot, tmp_path):
    target = load_target("tasks:huey")
    watch_only = Desk(target, str(tmp_path / "journal.sqlite"), workers=1, start_consumer=False)
    qtbot.addWidget(watch_only.window)
    watch_only.start()
    try:
        window = watch_only.window
        window.notifier.set_mode("all")
        panel = window.submit_panel
        panel.select_task("noop")
        with qtbot.waitSignal(panel.submitted, timeout=10_000) as submitted:
            qtbot.mouseClick(panel.submit_button, Qt.MouseButton.LeftButton)
        task_id = submitted.args[0]
        queue = window.queue_model

        def pending():
            assert any(r["id"] == task_id and r["state"] == "pending" for r in queue.loaded_rows())

        qtbot.waitUntil(pending, timeout=10_000)
        assert not window.start_button.isEnabled()  # --no-consumer: nothing to start here
        # a consumer started elsewhere picks it up; the window sees it done and says so
        from tests.helpers import Consumer, env_for

        consumer = Consumer(
            env_for(Path(os.environ["HUEY_DESK_DB"])),
            "--journal",
            str(tmp_path / "journal.sqlite"),
        )
        try:
            with qtbot.waitSignal(
                window.notifier.notified,
                timeout=30_000,
                check_params_cb=lambda title, text, tid: tid == task_id,
            ):
                pass
            qtbot.waitUntil(
                lambda: states(window.tasks_model)[task_id] == "complete", timeout=10_000
            )
        finally:
            assert consumer.stop() == 0
    finally:
        watch_only.shutdown()


def test_consumer_output_filter_keeps_warnings_errors_and_their_tracebacks(qtbot, tmp_path):
    desk = Desk(load_target("tasks:huey"), str(tmp_path / "j.sqlite"), start_consumer=True)
    qtbot.addWidget(desk.window)
    window = desk.window
    lines = [
        "[t] INFO:huey:Worker-1:Executing x",
        "[t] ERROR:huey:Worker-1:Unhandled",
        "Traceback (most recent call last):",
        "RuntimeError: boom",
        "[t] INFO:huey:Worker-1:Executing y",
        "[t] WARNING:huey:slow",
    ]
    desk.consumer.lines.extend(lines)
    window.log_level.setCurrentIndex(1)
    shown = window.log.toPlainText().splitlines()
    assert shown == [*lines[1:4], lines[5]]
    window.log_level.setCurrentIndex(0)
    assert window.log.toPlainText().splitlines() == lines
    # a flood of output reaches the view in batches, and only the last lines are kept
    flood = [f"[t] INFO:huey:Worker-1:line {i}" for i in range(LOG_LINES + 500)]
    for line in flood:
        desk.consumer.output.emit(line)
    qtbot.waitUntil(lambda: window.log.toPlainText().endswith(flood[-1]), timeout=5_000)
    assert window.log.blockCount() == LOG_LINES
    desk.thread.quit()
    desk.thread.wait()
    desk.journal.close()


def test_a_killed_consumer_leaves_interrupted_tasks_that_rerun_with_one_click(qtbot, tmp_path):
    import signal

    target = load_target("tasks:huey")
    d = Desk(target, str(tmp_path / "journal.sqlite"), workers=1)
    qtbot.addWidget(d.window)
    window = d.window
    window.rerun_action.setChecked(False)  # recorded only; the user re-runs by hand
    d.start()
    try:
        qtbot.waitUntil(lambda: d.consumer.state == "running", timeout=20_000)
        task_id = window.dispatcher.submit("sleep_for", [4])
        qtbot.waitUntil(
            lambda: states(window.tasks_model).get(task_id) == "executing", timeout=20_000
        )
        first_pid = d.consumer.pid
        os.kill(first_pid, signal.SIGKILL)
        qtbot.waitUntil(
            lambda: states(window.tasks_model).get(task_id) == "interrupted", timeout=20_000
        )
        row = window.tasks_model.row(window.tasks_model.row_number(task_id))
        assert "died" in row["error"]
        assert "interrupted" in window.statusBar().currentMessage()
        # the window started its consumer again, with back-off
        qtbot.waitUntil(
            lambda: d.consumer.state == "running" and d.consumer.pid != first_pid, timeout=30_000
        )
        assert len(d.consumer.crashes) == 1
        window.retry(task_id)  # the Retry button of an interrupted task: the same task again
        qtbot.waitUntil(
            lambda: "Re-running" in window.statusBar().currentMessage(), timeout=10_000
        )
        qtbot.waitUntil(
            lambda: states(window.tasks_model).get(task_id) == "complete", timeout=30_000
        )
    finally:
        d.shutdown()


def test_quitting_kills_a_consumer_that_overruns_and_records_its_task(qtbot, tmp_path):
    target = load_target("tasks:huey")
    d = Desk(target, str(tmp_path / "journal.sqlite"), workers=1)
    qtbot.addWidget(d.window)
    d.window.rerun_action.setChecked(False)
    d.start()
    qtbot.waitUntil(lambda: d.consumer.state == "running", timeout=20_000)
    task_id = d.window.dispatcher.submit("sleep_for", [60])
    qtbot.waitUntil(
        lambda: states(d.window.tasks_model).get(task_id) == "executing", timeout=20_000
    )
    journal = d.journal
    d.shutdown(stop_timeout_ms=300)  # the task would take a minute: the consumer is killed
    reopened = type(journal)(journal.path)
    try:
        record = reopened.task(task_id)
        assert record["state"] == "interrupted" and "died" in record["error"]
    finally:
        reopened.close()
