"""Bulk retry and revoke in the window: confirm with the count, run in chunks off the GUI
thread with a progress bar, cancel mid-way, a one-line summary; details link the retries."""

from __future__ import annotations

import time

import pytest
from huey import SqliteHuey
from PySide6.QtCore import QItemSelectionModel, Qt

from desktop_app.core.journal import SqliteJournal
from desktop_app.core.target import Target
from desktop_app.gui.app import Desk
from tests.helpers import failed_tasks, task_name

N = 1200  # five chunks of 250


@pytest.fixture
def desk(qtbot, tmp_path):
    huey = SqliteHuey("bulk-window", filename=str(tmp_path / "queue.db"))

    @huey.task()
    def boom(n: int = 0) -> None:
        raise RuntimeError(n)

    @huey.task()
    def nap(n: int = 0) -> None:
        pass

    journal_path = tmp_path / "journal.sqlite"
    journal = SqliteJournal(journal_path)
    failed_tasks(journal, task_name(huey, "boom"), N, time.time() - 60)
    journal.close()
    target = Target(spec="bulk:huey", module="bulk", attr="huey", huey=huey)
    d = Desk(target, str(journal_path), start_consumer=False)
    qtbot.addWidget(d.window)
    d.start()
    d.asked = []

    def confirm(question):
        d.asked.append(question)
        return True

    d.window.confirm = confirm
    yield d
    d.shutdown()
    huey.storage.close()


def action(window, name):
    return next(a for a in window.results_panel.bulk_actions if a.objectName() == name)


def filter_failed(qtbot, window):
    window.state_combo.setCurrentText("failed")
    qtbot.waitUntil(lambda: window.tasks_model.rowCount() == N, timeout=10_000)


def test_retry_all_matching_confirms_the_count_and_runs_in_chunks(qtbot, desk):
    window, panel = desk.window, desk.window.results_panel
    filter_failed(qtbot, window)
    seen = []
    panel.runner.progressed.connect(lambda p: seen.append(p.done))
    with qtbot.waitSignal(panel.runner.finished, timeout=30_000) as finished:
        action(window, "retry-matching").trigger()
        assert panel.bulk_bar.isVisible()  # counting: the bar is up at once
    assert desk.asked == [f"Retry {N:,} tasks (failed tasks)?"]
    result = finished.args[0]
    assert (result.acted, result.skipped, result.refused) == (N, 0, 0)
    # progress came chunk by chunk, through the GUI thread's event loop
    assert seen[:2] == [250, 500] and seen[-1] == N
    assert desk.target.huey.pending_count() == N
    assert window.statusBar().currentMessage() == f"Retried {N:,} of {N:,} tasks."
    assert not panel.bulk_bar.isVisible()


def test_cancel_mid_way_then_again_finishes_each_once(qtbot, desk):
    window, panel = desk.window, desk.window.results_panel
    filter_failed(qtbot, window)
    # cancel from the job's own thread right after its first chunk: deterministic
    panel.runner.progressed.connect(panel.runner.cancel, Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(panel.runner.finished, timeout=30_000) as finished:
        action(window, "retry-matching").trigger()
    first = finished.args[0]
    assert first.cancelled and first.acted == 250
    assert desk.target.huey.pending_count() == 250
    assert "cancelled after 250" in window.statusBar().currentMessage()
    panel.runner.progressed.disconnect(panel.runner.cancel)
    with qtbot.waitSignal(panel.runner.finished, timeout=30_000) as finished:
        action(window, "retry-matching").trigger()
    second = finished.args[0]
    assert (second.acted, second.skipped) == (N - 250, 250)
    assert desk.target.huey.pending_count() == N  # each task once


def test_retry_selected_rows_and_the_details_link_both_ways(qtbot, desk):
    window, panel = desk.window, desk.window.results_panel
    filter_failed(qtbot, window)
    view = window.results_view
    qtbot.waitUntil(lambda: window.tasks_model.row(2) is not None, timeout=10_000)
    chosen = []
    for row in (0, 1, 2):
        index = window.tasks_model.index(row, 0)
        view.selectionModel().select(
            index,
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
        chosen.append(window.tasks_model.row(row)["task_id"])
    assert panel.selected_ids() == chosen
    with qtbot.waitSignal(panel.runner.finished, timeout=30_000) as finished:
        action(window, "retry-selected").trigger()
    assert desk.asked == ["Retry 3 tasks (3 selected tasks)?"]
    assert finished.args[0].acted == 3
    retried_as = desk.window.inspector.journal.retries_of(chosen)
    details = window.details
    details.show_task(chosen[0])
    qtbot.waitUntil(lambda: "retried as" in details.facts.text(), timeout=10_000)
    assert f'<a href="{retried_as[chosen[0]]}">' in details.facts.text()
    details.facts.linkActivated.emit(retried_as[chosen[0]])  # a click on the link
    qtbot.waitUntil(lambda: "retry of" in details.facts.text(), timeout=10_000)
    assert details.task_id == retried_as[chosen[0]]
    assert f'<a href="{chosen[0]}">' in details.facts.text()


def test_a_state_the_action_cannot_take_is_said_and_nothing_runs(qtbot, desk):
    window, panel = desk.window, desk.window.results_panel
    filter_failed(qtbot, window)
    action(window, "revoke-matching").trigger()
    assert "Failed tasks cannot be revoked" in window.statusBar().currentMessage()
    assert not panel.runner.busy and desk.asked == []
    window.state_combo.setCurrentText("pending")
    with qtbot.waitSignal(panel.runner.counted, timeout=10_000) as counted:
        action(window, "revoke-matching").trigger()
    assert counted.args[1] == 0 and not panel.runner.busy
    assert "No tasks to revoke" in window.statusBar().currentMessage()
    assert desk.asked == []
