"""The window without a monitor or consumer: title, menus, a layout that keeps still."""

from __future__ import annotations

import pytest
from huey import MemoryHuey, SqliteHuey
from PySide6.QtWidgets import QApplication

from desktop_app.core.catalogue import Catalogue
from desktop_app.core.target import Target
from desktop_app.gui.main_window import MainWindow


def window_on(qtbot, huey, spec="proj.tasks:huey"):
    @huey.task()
    def noop() -> None:
        pass

    target = Target(spec=spec, module=spec.split(":")[0], attr="huey", huey=huey)
    window = MainWindow(target, Catalogue(huey), None, None, None)
    qtbot.addWidget(window)
    return window


def settle():
    """Run the posted layout requests (no waiting on time)."""
    for _ in range(3):
        QApplication.sendPostedEvents()
        QApplication.processEvents()


def test_two_windows_on_different_queues_have_different_titles(qtbot, tmp_path):
    one = window_on(qtbot, SqliteHuey("orders", filename=str(tmp_path / "orders.db")))
    two = window_on(qtbot, SqliteHuey("mail", filename=str(tmp_path / "mail.db")))
    assert one.windowTitle() != two.windowTitle()
    assert "orders" in one.windowTitle() and "orders.db" in one.windowTitle()
    assert "mail" in two.windowTitle()
    (tmp_path / "b").mkdir()
    same_name = window_on(qtbot, SqliteHuey("orders", filename=str(tmp_path / "b/orders.db")))
    assert same_name.windowTitle() != one.windowTitle()  # same name, another database


def actions(menu):
    return [a.text().replace("&", "") for a in menu.actions()]


def test_task_actions_are_in_a_task_menu_not_in_view(qtbot):
    window = window_on(qtbot, MemoryHuey("m"))
    menus = {m.text().replace("&", ""): m.menu() for m in window.menuBar().actions()}
    assert "Task" in menus
    task = actions(menus["Task"])
    assert "Retry selected task" in task
    assert any(t.startswith("Revoke selected queued tasks") for t in task)
    assert "Edit and resubmit selected task" in task
    view = actions(menus["View"])
    assert not any("Retry" in t or "Revoke" in t for t in view)


FAILED = {
    "id": "t-1",
    "task": "tasks.demo.always_fail",
    "state": "error",
    "args": ["the SMTP server refused the login"],
    "kwargs": {},
    "args_preview": "'the SMTP server refused the login'",
    "enqueued_at": 1.0,
    "started_at": 2.0,
    "finished_at": 3.0,
    "duration": 1.0,
    "worker": "Worker-1",
    "pid": 1234,
    "attempts": 1,
    "retry_of": "a-previous-task-id-that-is-long",
    "error": "RuntimeError('the SMTP server refused the login')",
    "traceback": "Traceback (most recent call last):\n"
    + "".join(f'  File "x.py", line {i}, in f\n    g()\n' for i in range(30))
    + "RuntimeError: the SMTP server refused the login\n",
    "events": [
        {"kind": k, "ts": t, "worker": "Worker-1", "data": {}}
        for k, t in (("enqueued", 1.0), ("executing", 2.0), ("error", 3.0))
    ],
}


def sizes(window):
    return {name: s.sizes() for name, s in window.splitters.items()} | {
        "tasks": window.results_panel.splitter.sizes()
    }


@pytest.mark.parametrize("size", [(1400, 880), (1100, 700)])
def test_selecting_a_task_keeps_the_layout_still_and_gives_the_text_room(qtbot, size):
    window = window_on(qtbot, MemoryHuey("m"))
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    settle()
    before = sizes(window)
    details = window.details
    details.task_id = "t-1"
    details._loaded(FAILED)
    settle()
    assert sizes(window) == before
    # the traceback gets most of the details' height, not 3 or 4 lines
    line = details.text.fontMetrics().lineSpacing()
    assert details.text.viewport().height() >= 8 * line
    details._loaded(FAILED | {"traceback": None, "error": None, "result": None})
    settle()
    assert sizes(window) == before


def test_the_queue_state_column_fits_scheduled_revoked(qtbot):
    window = window_on(qtbot, MemoryHuey("m"))
    view = window.queue_view
    needed = view.fontMetrics().horizontalAdvance("scheduled, revoked")
    assert view.columnWidth(0) >= needed + 12


def test_a_none_result_is_shown_as_none_not_nonetype(qtbot):
    window = window_on(qtbot, MemoryHuey("m"))
    panel = window.submit_panel
    panel.select_task("noop")
    assert "NoneType" not in panel.about.text() and "-&gt; None" in panel.about.text()
    tips = [panel.tasks.item(i).toolTip() for i in range(panel.tasks.count())]
    assert not any("NoneType" in t for t in tips)


def test_panels_give_their_room_to_the_views(qtbot):
    window = window_on(qtbot, MemoryHuey("m"))
    window.resize(1400, 880)
    window.show()
    qtbot.waitExposed(window)
    settle()
    for panel in (window.queue_panel, window.workers_panel, window.results_panel):
        # the title keeps to its line (a gap of 40 px opened under the Tasks title)
        assert panel.label.height() <= 2 * panel.label.fontMetrics().lineSpacing()
    view = window.workers_view
    rows = (view.height() - view.horizontalHeader().height()) // 22
    assert rows >= 3  # the output and charts tabs squeezed the workers to one row


def test_column_widths_a_user_dragged_are_kept_per_table(qtbot):
    window = window_on(qtbot, MemoryHuey("m"))
    window.queue_view.setColumnWidth(1, 201)
    window.results_panel.view.setColumnWidth(2, 333)
    window.save_settings()
    again = window_on(qtbot, MemoryHuey("m"))
    assert again.queue_view.columnWidth(1) == 201
    assert again.results_panel.view.columnWidth(2) == 333
    assert again.workers_panel.view.columnWidth(0) == window.workers_panel.view.columnWidth(0)
