"""The worker timeline tab: lanes and bars of a real consumer's runs, hover, click, zoom."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from desktop_app.core.journal import COMPLETE, ERROR, EXECUTING, INTERRUPTED
from desktop_app.core.target import load_target
from desktop_app.core.timeline import Run, RunPage
from desktop_app.gui.app import Desk
from desktop_app.gui.timeline_panel import TimelinePanel, hover_text


def page_of(*runs: Run, t0=0.0, t1=2e9) -> RunPage:
    return RunPage(t0, t1, list(runs), lanes=sorted({r.lane for r in runs}))


def make_run(task_id, start, end, state=COMPLETE, worker="Worker-1", **extra):
    return Run(task_id, "app.job", worker, "host-a:7:1", "host-a", start, end, state, **extra)


def test_hover_says_the_task_its_arguments_state_duration_and_worker():
    text = hover_text(make_run("t1", 100.0, 102.5, ERROR, args_preview="42, 'x'"))
    assert "app.job" in text and "id t1" in text and "args 42, 'x'" in text
    assert "failed, 2.50 s" in text and "Worker-1 on host-a" in text


def test_presets_and_keys_change_the_range_and_reads_follow(qtbot):
    asked = []

    def reader(t0, t1, limit):
        asked.append((t0, t1))
        return page_of(t0=t0, t1=t1)

    panel = TimelinePanel(reader)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.loaded is not None)

    def width():
        a, b = panel.visible()
        return b - a

    qtbot.mouseClick(panel.preset_buttons[3600.0], Qt.MouseButton.LeftButton)
    assert width() == pytest.approx(3600 * 1.02)
    qtbot.waitUntil(lambda: panel.loaded[0] <= panel.visible()[0])  # re-read: wider
    panel.setFocus()
    qtbot.keyClick(panel, Qt.Key.Key_1)
    assert width() == pytest.approx(60 * 1.02) and panel.follow
    panel.pan(-0.25)  # the view stops following the clock
    assert not panel.follow
    qtbot.waitUntil(lambda: not panel._busy)
    reads = len(asked)
    panel.pan(-0.25)  # within the range read (one width each side): no new read
    assert len(asked) == reads
    panel.pan(-300.0)  # five hours back, past it: one read, of the new range and margins
    qtbot.waitUntil(lambda: len(asked) == reads + 1 and panel.loaded == asked[-1])
    a, b = panel.visible()
    assert asked[-1][0] == pytest.approx(a - (b - a)) and asked[-1][1] >= b


def test_a_hidden_tab_does_not_read_and_reads_once_shown(qtbot):
    asked = []

    def reader(t0, t1, limit):
        asked.append((t0, t1))
        return page_of(t0=t0, t1=t1)

    panel = TimelinePanel()
    qtbot.addWidget(panel)
    panel.reader = reader
    panel.show_last(3600.0)  # the range moves, as the clock's follow does every second
    panel.zoom(0.5)
    assert asked == []
    panel.show()
    qtbot.waitUntil(lambda: len(asked) == 1 and panel.loaded == asked[0])
    a, b = panel.visible()
    assert asked[0][0] <= a and asked[0][1] >= b


def test_a_range_cut_by_the_limit_is_followed_without_reading_again(qtbot):
    """More runs than the limit in view: the read of the view itself reaches into the
    future, so the clock's steps stay within it; the next read skips the margins."""
    asked = []

    def reader(t0, t1, limit):
        asked.append((t0, t1))
        mid = (t0 + t1) / 2
        runs = [make_run(f"t{i}", mid - i, mid - i + 0.5) for i in range(3)]
        return RunPage(t0, t1, runs, truncated=True, lanes=[runs[0].lane])

    panel = TimelinePanel(reader)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.loaded is not None and not panel._busy)
    a, b = panel.visible()
    assert len(asked) == 2 and asked[1][0] == pytest.approx(a) and asked[1][1] > b + 60
    for step in range(1, 4):  # three seconds of following the clock
        panel.plot.setXRange(a + step, b + step, padding=0)
    assert len(asked) == 2
    panel.fetch(force=True)  # the follow timer's read: the view only, once
    qtbot.waitUntil(lambda: not panel._busy)
    assert len(asked) == 3 and asked[2][0] == pytest.approx(panel.visible()[0])


def test_bars_marks_and_links_and_a_running_bar_grows(qtbot):
    now = time.time()
    runs = [
        make_run("a", now - 50, now - 45, ERROR, attempt=1, attempts=2),
        make_run("a", now - 40, now - 30, COMPLETE, worker="Worker-2", attempt=2, attempts=2),
        make_run("b", now - 20, now - 10, INTERRUPTED),
        make_run("c", now - 5, None, EXECUTING),
    ]
    panel = TimelinePanel(lambda t0, t1, limit: page_of(*runs, t0=t0, t1=t1))
    qtbot.addWidget(panel)
    panel.resize(800, 300)
    panel.show()
    qtbot.waitUntil(lambda: panel.bar_items().get(EXECUTING) == 1)
    assert panel.bar_items() == {ERROR: 1, COMPLETE: 1, INTERRUPTED: 1, EXECUTING: 1}
    kinds = {getattr(i, "kind", None): i for i in panel._items}
    assert "interrupted" in kinds and kinds["retries"].count == 1
    assert [lane[2] for lane in panel.lanes()] == ["Worker-1", "Worker-2"]
    (running,) = [i for i in panel._items if getattr(i, "state", "") == EXECUTING]
    first_end = running.opts["x1"][0]
    qtbot.waitUntil(
        lambda: (
            next(i for i in panel._items if getattr(i, "state", "") == EXECUTING).opts["x1"][0]
            > first_end
        ),
        timeout=5000,
    )
    assert panel.run_at(now - 33, 0) is None  # between runs of Worker-1
    assert panel.run_at(now - 47, 0).task_id == "a"


def test_the_nearest_of_close_bars_is_hovered_and_a_redraw_keeps_it_up_to_date(qtbot):
    now = time.time()
    shown = [
        make_run("early", now - 30.0, now - 29.99),
        make_run("late", now - 29.8, None, EXECUTING),
    ]
    panel = TimelinePanel(lambda t0, t1, limit: page_of(*shown, t0=t0, t1=t1))
    qtbot.addWidget(panel)
    panel.resize(800, 300)
    panel.show()
    panel.show_last(60)  # about 0.08 s a pixel: both bars within the hover's few pixels
    qtbot.waitUntil(lambda: not panel._busy and len(panel.page.runs) == 2)
    assert panel.run_at(now - 29.97, 0).task_id == "early"
    assert panel.run_at(now - 29.82, 0).task_id == "late"
    panel._moved(panel.plot.getViewBox().mapViewToScene(QPointF(now - 29.79, 0)))
    assert "id late" in panel.hover_label.text() and "running" in panel.hover_label.text()
    shown[1] = make_run("late", now - 29.8, now - 1, ERROR)  # it ended while hovered
    with qtbot.waitSignal(panel.page_applied):
        panel.fetch(force=True)
    assert "id late" in panel.hover_label.text() and "failed" in panel.hover_label.text()


@pytest.mark.consumer
def test_the_tab_shows_a_real_consumers_runs_and_a_click_opens_details(qtbot, tmp_path):
    target = load_target("tasks:huey")
    desk = Desk(target, str(tmp_path / "journal.sqlite"), workers=2)
    qtbot.addWidget(desk.window)
    desk.start()
    try:
        qtbot.waitUntil(lambda: desk.consumer.state == "running", timeout=20_000)
        dispatcher = desk.window.dispatcher
        ok = [dispatcher.submit("tasks.demo.noop") for _ in range(3)]
        panel = desk.window.timeline
        desk.window.workers_panel.below.setCurrentWidget(panel)
        # the failure runs once the noops are drawn: far enough from them in time
        # (more than a pixel of the minute's view) for the pointer to pick its bar alone
        qtbot.waitUntil(lambda: set(ok) <= {r.task_id for r in panel.page.runs}, timeout=30_000)
        bad = dispatcher.submit("tasks.demo.always_fail", kwargs={"message": "no"})

        def drawn():
            runs = {r.task_id: r for r in panel.page.runs}
            assert set(ok) | {bad} <= set(runs)
            assert all(runs[t].state == COMPLETE for t in ok) and runs[bad].state == ERROR

        qtbot.waitUntil(drawn, timeout=30_000)
        items = panel.bar_items()
        assert items[COMPLETE] >= 3 and items[ERROR] >= 1
        assert {lane[2] for lane in panel.lanes()} >= {"Worker-1", "Worker-2"}
        run = next(r for r in panel.page.runs if r.task_id == bad)
        y = panel.lanes().index(run.lane)
        panel.show_last(60)
        panel.pan(0.0)  # the view stays put now (it no longer follows the clock)
        view = panel.plot.getViewBox()
        viewport = panel.plot.viewport()

        def pointer_on_the_bar():  # the minute's own read drawn; the pixel nearest its middle
            assert not panel._busy
            middle = view.mapViewToScene(QPointF((run.start + run.end) / 2, y))
            at = panel.plot.mapFromScene(middle)  # whole pixels, as a pointer is
            back = view.mapSceneToView(panel.plot.mapToScene(at))
            assert getattr(panel.run_at(back.x(), back.y()), "task_id", None) == bad
            return QPointF(at)

        qtbot.waitUntil(lambda: pointer_on_the_bar() is not None)
        at = pointer_on_the_bar()  # no event between: the view has not moved
        # hover the bar: the pointer moves over it in the plot's viewport
        move = QMouseEvent(
            QEvent.Type.MouseMove,
            at,
            viewport.mapToGlobal(at),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, move)
        qtbot.waitUntil(lambda: "always_fail" in panel.hover_label.text())
        assert "failed" in panel.hover_label.text() and run.worker in panel.hover_label.text()
        with qtbot.waitSignal(panel.task_requested) as clicked:
            qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=at.toPoint())
        assert clicked.args == [bad]
        qtbot.waitUntil(lambda: desk.window.details.task_id == bad)
        qtbot.waitUntil(
            lambda: (
                "no" in desk.window.details.title.text()
                or bad[:8] in desk.window.details.title.text()
            )
        )
    finally:
        desk.shutdown()


def test_a_long_summary_is_cut_at_the_tab_and_whole_in_its_tooltip(qtbot):
    panel = TimelinePanel(lambda t0, t1, limit: page_of(t0=t0, t1=t1))
    qtbot.addWidget(panel)
    before = panel.minimumSizeHint().width()
    long = "10,000 runs (the newest of this range: zoom in for the rest) " * 3
    panel._say(long)
    assert panel.minimumSizeHint().width() == before
    assert panel.summary.toolTip() == long
