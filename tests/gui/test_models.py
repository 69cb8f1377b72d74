"""The table models are thin adapters and pass Qt's model tester through updates."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt

from desktop_app.gui.models import QueueModel, Role, TasksModel, WorkersModel, progress_text


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


def test_tasks_model_upserts_newest_first(qtmodeltester):
    model = TasksModel()
    qtmodeltester.check(model)
    model.upsert([task("a"), task("b")])
    assert [model.row(i)["task_id"] for i in range(model.rowCount())] == ["b", "a"]
    model.upsert([task("a", state="error", error="boom"), task("c", state="executing")])
    assert model.rowCount() == 3
    assert model.row(0)["task_id"] == "c"
    a = next(i for i in range(3) if model.row(i)["task_id"] == "a")
    assert model.index(a, 0).data() == "error"
    assert model.index(a, 6).data() == "boom"
    assert model.index(a, 1).data() == "noop"
    assert model.index(a, 5).data() == "250 ms"
    assert model.index(a, 5).data(Role.SORT) == 0.25
    assert model.headerData(0, Qt.Orientation.Horizontal) == "State"
    qtmodeltester.check(model)


def test_tasks_model_keeps_a_bounded_number_of_rows(qtmodeltester):
    model = TasksModel(limit=5)
    model.upsert([task(str(i)) for i in range(8)])
    assert model.rowCount() == 5
    assert model.row(0)["task_id"] == "7"
    qtmodeltester.check(model)


def test_queue_and_workers_models_replace(qtmodeltester):
    queue = QueueModel()
    queue.replace(
        [
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
        ]
    )
    assert queue.index(1, 1).data() == "(not decoded)"
    assert queue.index(1, 2).data() == "not a Huey message"
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
    assert workers.index(0, 3).data() == "send_email"
    assert workers.index(0, 5).data() == "50% send"
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
