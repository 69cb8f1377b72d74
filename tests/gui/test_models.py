"""The table models are thin adapters and pass Qt's model tester through updates."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from desktop_app.core.history import TaskQuery
from desktop_app.gui.models import Role, WorkersModel, progress_text
from desktop_app.gui.queue_table import QueueModel
from desktop_app.gui.task_history import TasksModel
from desktop_app.gui.windowed_model import BLOCK, LOADING


def task(task_id, state="complete", **extra):
    return {
        "task_id": task_id,
        "task_name": "tasks.demo.noop",
        "state": state,
        "args_preview": "1, 2",
        "started_at": time.time(),
        "duration": 0.25,
        **extra,
    }


def opened(model, rows, total=None, anchor=None):
    """Answer the model's query the way the monitor does."""
    generation = model.begin()
    seqs = [r["seq"] for r in rows]
    model.opened(
        generation,
        anchor if anchor is not None else max(seqs, default=0),
        len(rows) if total is None else total,
        rows,
    )
    return generation


def test_tasks_model_shows_live_rows_newest_first(qtmodeltester):
    model = TasksModel()
    qtmodeltester.check(model)
    opened(model, [task("b", seq=2), task("a", seq=1)])
    assert [model.row(i)["task_id"] for i in range(model.rowCount())] == ["b", "a"]
    model.apply(
        [task("a", seq=1, state="error", error="boom"), task("c", seq=3, state="executing")]
    )
    assert model.rowCount() == 3
    assert model.row(0)["task_id"] == "c"
    a = model.row_number("a")
    assert model.index(a, 0).data() == "failed"  # the word users see, not the stored name
    assert model.index(model.row_number("c"), 0).data() == "running"
    assert model.index(a, 0).data(Role.SORT) == "error"
    assert model.index(a, 6).data() == "boom"
    assert model.index(a, 1).data() == "noop"
    assert model.index(a, 5).data() == "250 ms"
    assert model.index(a, 5).data(Role.SORT) == 0.25
    assert model.headerData(0, Qt.Orientation.Horizontal) == "State"
    qtmodeltester.check(model)


@pytest.mark.parametrize("total", [1_000_000, 5 * BLOCK + 17])
def test_tasks_model_asks_for_the_blocks_it_draws(qtbot, qtmodeltester, total):
    model = TasksModel()
    first = [task(f"t{total - i}", seq=total - i) for i in range(BLOCK)]
    generation = opened(model, first, total=total, anchor=total)
    assert model.rowCount() == total
    assert model.row(0)["task_id"] == f"t{total}"
    # the last row is not in memory: drawing it shows a placeholder and asks for its block
    last = model.index(total - 1, 0)
    with qtbot.waitSignal(model.fetch_requested) as asked:
        assert last.data() == LOADING
    request = asked.args[0]
    assert request["generation"] == generation and request["anchor"] == total
    assert request["blocks"] == [(total - 1) // BLOCK]
    block = request["blocks"][0]
    rows = [task(f"t{total - n}", seq=total - n) for n in range(block * BLOCK, total)]
    with qtbot.waitSignal(model.dataChanged):
        model.put_block(generation, total, block, rows)
    assert model.index(total - 1, 7).data() == "t1"
    # an answer to an older query is ignored
    model.put_block(generation - 1, total, 3, [task("stale", seq=5)])
    assert model.row_number("stale") is None
    if total < 10_000:  # the tester walks every row
        qtmodeltester.check(model)


def test_tasks_model_folds_live_rows_without_moving_them(qtbot):
    model = TasksModel()
    generation = opened(model, [task("old", seq=1)])
    model.apply([task(f"n{i}", seq=10 + i) for i in range(BLOCK + 5)])
    assert model.rowCount() == BLOCK + 6
    assert model.row(0)["task_id"] == f"n{BLOCK + 4}"
    assert model.row(BLOCK + 5)["task_id"] == "old"
    assert [model.row(i)["task_id"] for i in range(3)] == [f"n{BLOCK + 4 - i}" for i in range(3)]
    # a block asked for before the fold still lands where it was asked for
    model.put_block(generation, 1, 0, [task("old", seq=1, state="error")])
    assert model.row(BLOCK + 5)["state"] == "error"


def test_tasks_model_keeps_only_matching_live_rows_and_counts_late(qtbot):
    model = TasksModel()
    query = TaskQuery(state="error")
    generation = model.begin()
    model.opened(generation, 5, None, [task("e", seq=4, state="error")], query.matches)
    assert not model.counted and model.rowCount() == 1
    model.apply([task("ok", seq=6), task("bad", seq=7, state="error")])
    assert [model.row(i)["task_id"] for i in range(model.rowCount())] == ["bad", "e"]
    model.counted_total(generation, 3)
    assert model.counted and model.rowCount() == 4


def test_queue_and_workers_models(qtbot, qtmodeltester):
    queue = QueueModel()
    with qtbot.waitSignal(queue.query_requested) as asked:
        queue.set_text("noop")
    generation = asked.args[0]["generation"]
    queue.on_opened(
        {
            "generation": generation,
            "total": 2,
            "capped": True,
            "rows": [
                {
                    "id": "x",
                    "task": "tasks.demo.noop",
                    "args": "",
                    "decoded": True,
                    "priority": 5,
                    "state": "pending",
                },
                {
                    "id": None,
                    "task": None,
                    "decoded": False,
                    "problem": "not a Huey message",
                    "state": "pending",
                },
            ],
        }
    )
    assert queue.capped and queue.text == "noop"
    assert queue.index(1, 1).data() == "(not decoded)"
    assert queue.index(1, 2).data() == "not a Huey message"
    qtmodeltester.check(queue)
    queue.on_resized({"generation": generation, "total": 1})
    assert queue.rowCount() == 1 and not queue.capped
    qtmodeltester.check(queue)
    workers = WorkersModel()
    now = time.time()
    workers.replace(
        [
            {
                "consumer": "c",
                "name": "Worker-1",
                "pid": 5,
                "state": "busy",
                "task": "tasks.demo.send_email",
                "started_at": now - 3,
                "progress": 0.5,
                "progress_message": "send",
            }
        ]
    )
    assert workers.index(0, 4).data() == "send_email"  # after State, Host, Worker, PID
    assert workers.index(0, workers.PROGRESS).data() == "50% send"
    qtmodeltester.check(workers)
    workers.replace([])
    assert workers.rowCount() == 0


def test_progress_text_only_for_busy_workers():
    assert progress_text({"state": "idle", "progress": 0.5}) == ""
    assert progress_text({"state": "busy", "progress": 1.0}) == "100%"


def test_charts_bucket_finished_and_failed_tasks(qtbot):
    from desktop_app.gui.charts import BUCKET_S, ChartsPanel

    charts = ChartsPanel()
    qtbot.addWidget(charts)
    now = time.time()
    charts.on_events(
        [
            {"kind": "complete", "ts": now, "data": {}},
            {"kind": "complete", "ts": now, "data": {}},
            {"kind": "error", "ts": now, "data": {"retries": 0}},
            {"kind": "error", "ts": now, "data": {"retries": 2}},  # will be retried
            {"kind": "complete", "ts": now - 3600, "data": {}},  # outside the window
        ]
    )
    charts.on_status({"pending": 4, "scheduled": 1})
    xs, done, failed = charts.series()
    assert sum(done) == 2 and sum(failed) == 1
    assert len(xs) == len(done) + 1 and xs[1] - xs[0] == BUCKET_S
    charts.redraw()
    assert list(charts.depth_curve.getData()[1]) == [5]


def test_tasks_model_rows_stay_put_through_many_folds(qtbot, qtmodeltester):
    model = TasksModel()
    total = 3 * BLOCK
    first = [task(f"o{total - i}", seq=total - i) for i in range(BLOCK)]
    generation = opened(model, first, total=total, anchor=total)
    anchor = model.anchor
    seq = total
    for _ in range(3):  # three folds, each of a whole block and a bit
        rows = [task(f"n{seq + j + 1}", seq=seq + j + 1) for j in range(BLOCK + 7)]
        seq += len(rows)
        model.apply(rows)
    assert model.rowCount() == total + seq - total
    expected = [f"n{n}" for n in range(seq, total, -1)] + [f"o{n}" for n in range(total, 0, -1)]
    # the oldest block, asked for at the first anchor, lands where it belongs
    last_block = (total - 1) // BLOCK
    old_rows = [task(f"o{total - n}", seq=total - n) for n in range(last_block * BLOCK, total)]
    model.put_block(generation, anchor, last_block, old_rows)
    loaded = {i: model.row(i)["task_id"] for i in range(model.rowCount()) if model.row(i)}
    assert all(expected[i] == name for i, name in loaded.items())
    assert loaded[model.rowCount() - 1] == "o1" and loaded[0] == f"n{seq}"
    assert model.row_number("o1") == model.rowCount() - 1
    model.apply([task("o1", seq=1, state="error")])
    assert model.row(model.rowCount() - 1)["state"] == "error"
    qtmodeltester.check(model)


def test_tasks_model_sorts_in_the_store_and_sorted_views_take_no_live_rows(qtbot):
    model = TasksModel()
    opened(model, [task("a", seq=1)], total=60_000)
    with qtbot.waitSignal(model.sort_refused):  # too many to sort
        model.sort(5, Qt.SortOrder.AscendingOrder)
    assert model.query.live
    opened(model, [task("a", seq=1)])
    with qtbot.waitSignal(model.query_requested) as asked:
        model.sort(5, Qt.SortOrder.AscendingOrder)  # Duration
    query = asked.args[0]["query"]
    assert (query.order, query.descending) == ("duration", False) and not query.live
    model.on_opened(
        {"generation": model.generation, "anchor": 2, "total": 2, "rows": [task("b", seq=2)]}
    )
    model.apply([task("new", seq=9)])  # a snapshot: not inserted on top
    assert model.row_number("new") is None and model.rowCount() == 2
    with qtbot.waitSignal(model.query_requested) as asked:
        model.sort(-1)
    assert asked.args[0]["query"].live


def test_state_colours_follow_a_light_or_dark_palette(qapp):
    from PySide6.QtGui import QColor, QPalette

    from desktop_app.gui.models import state_brush

    original = qapp.palette()
    try:
        for base, want in (("#ffffff", "#2f855a"), ("#202020", "#68d391")):
            palette = QPalette(original)
            palette.setColor(QPalette.ColorRole.Base, QColor(base))
            qapp.setPalette(palette)
            assert state_brush("complete").color().name() == want
        assert state_brush("pending") is None
    finally:
        qapp.setPalette(original)


def test_a_short_block_is_not_asked_for_again_and_late_counts_keep_folded_rows(qtbot):
    model = TasksModel()
    total = 5 * BLOCK
    generation = opened(model, [task(f"t{total - i}", seq=total - i) for i in range(BLOCK)], total)
    # the store had fewer rows than counted (tasks left the filter): the rest is blank
    model.put_block(generation, total, 2, [task("x", seq=5)])
    assert model.index(2 * BLOCK + 1, 0).data() == ""
    assert not model._ask_timer.isActive()  # nothing asked for
    # a count that arrives after live rows were folded in keeps them
    model = TasksModel()
    generation = model.begin()
    model.opened(generation, 10, None, [task("a", seq=10)], lambda r: True)
    model.apply([task(f"n{i}", seq=100 + i) for i in range(BLOCK)])
    assert model.rowCount() == BLOCK + 1
    model.counted_total(generation, 50, anchor=10)
    assert model.rowCount() == 50 + BLOCK


def test_the_queue_model_keeps_only_the_blocks_the_monitor_reads_again():
    from desktop_app.gui.queue_table import QueueModel

    queue = QueueModel()
    generation = queue.begin()
    queue.opened(generation, 0, 20 * BLOCK, [])
    for block in range(10):
        queue.put_block(generation, 0, block, [{"id": f"q{block}", "state": "pending"}])
    assert len(list(queue.loaded_rows())) == queue.max_blocks


def test_a_cell_is_answered_in_one_call_with_what_data_gives_for_each_role(qtmodeltester):
    from PySide6.QtCore import QModelRoleData, QModelRoleDataSpan

    model = TasksModel()
    model.apply([task("a", "error", seq=1), task("b", seq=2)])
    qtmodeltester.check(model)
    roles = [
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.FontRole,
        Role.ROW,
    ]
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        items = [QModelRoleData(role) for role in roles]
        for item in items:
            model.multiData(index, QModelRoleDataSpan(item))
        assert [item.data() for item in items] == [model.data(index, role) for role in roles]
    assert items[0].data() == "failed"  # the last row: the oldest, "a"
    assert items[2].data() is not None  # the state's colour


def test_an_index_outside_the_table_is_invalid():
    model = TasksModel()
    model.apply([task("a", seq=1)])
    assert model.index(0, 0).isValid()
    assert model.index(0, len(model.columns) - 1).isValid()
    assert not model.index(1, 0).isValid()
    assert not model.index(0, len(model.columns)).isValid()
    assert not model.index(-1, 0).isValid()
    assert not model.index(0, 0, model.index(0, 0)).isValid()
