"""The submit form: *args after the positional fields, optional typed values, honest hints."""

from __future__ import annotations

import datetime as dt

import pytest
from huey import MemoryHuey

from desktop_app.core.catalogue import Catalogue
from desktop_app.gui.submit_panel import SubmitPanel


@pytest.fixture
def catalogue():
    huey = MemoryHuey("submit-form-tests")

    @huey.task()
    def add_pipeline(a: int, b: int, *nums: int) -> int:
        return a + b + sum(nums)

    @huey.task()
    def report(rows: int = 10, since: dt.date | None = None, note: str | None = "x") -> str:
        return f"{rows} {since} {note}"

    @huey.task()
    def other() -> None:
        pass

    return Catalogue(huey)


class Dispatcher:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def submit(self, name, args, kwargs, **when):
        self.calls.append((name, args, kwargs, when))
        return "new-task-id"


class Inspector:
    def __init__(self, live_workers: int) -> None:
        self.live = live_workers

    def estimate_start(self, name: str) -> float:
        return 0.0  # an empty queue

    def workers(self) -> list[dict]:
        return [{"state": "idle"}] * self.live


def make(qtbot, catalogue, inspector=None):
    dispatcher = Dispatcher()
    panel = SubmitPanel(catalogue, dispatcher, inspector=inspector)
    qtbot.addWidget(panel)
    return panel, dispatcher


def test_star_args_bind_after_the_positional_fields(qtbot, catalogue):
    panel, dispatcher = make(qtbot, catalogue)
    panel.select_task("add_pipeline")
    panel.findChild(object, "param-a").setValue(1)
    panel.findChild(object, "param-b").setValue(2)
    panel.findChild(object, "param-nums").setText("[3, 4, 5]")
    assert panel.error.text() == ""
    assert panel.submit_button.isEnabled()
    panel.findChild(object, "param-nums").setText("not json")
    assert "nums is not valid JSON" in panel.error.text()
    assert not panel.submit_button.isEnabled()
    panel.findChild(object, "param-nums").setText("[3, 4, 5]")
    args, kwargs, _ = panel.collect()
    assert (args, kwargs) == ([1, 2, 3, 4, 5], {})
    with qtbot.waitSignal(panel.submitted):
        panel.submit()
    assert dispatcher.calls[0][1:3] == ([1, 2, 3, 4, 5], {})
    # and a recorded call of it fills the form back
    panel.prefill("add_pipeline", [7, 8, 9], {})
    assert panel.findChild(object, "param-a").value() == 7
    assert panel.findChild(object, "param-nums").text() == "[9]"


def test_an_optional_date_has_a_date_widget_and_a_none_choice(qtbot, catalogue):
    panel, _ = make(qtbot, catalogue)
    panel.select_task("report")
    since = panel.findChild(object, "param-since")
    none = panel.findChild(object, "param-since-none")
    assert since.metaObject().className() == "QDateEdit"
    assert none.isChecked() and not since.isEnabled()  # the default is None
    assert panel.collect()[1]["since"] is None
    none.setChecked(False)
    assert since.isEnabled()
    since.setDate(dt.date(2024, 1, 1))
    assert panel.collect()[1]["since"] == "2024-01-01"
    assert panel.submit_button.isEnabled()
    # an optional text keeps its default, and can be set to None as well
    note = panel.findChild(object, "param-note")
    assert note.text() == "x" and not panel.findChild(object, "param-note-none").isChecked()
    panel.findChild(object, "param-note-none").setChecked(True)
    assert panel.collect()[1]["note"] is None
    # a recorded call fills both
    panel.prefill("report", [], {"since": {"$date": "2025-02-03"}, "note": None})
    assert not panel.findChild(object, "param-since-none").isChecked()
    assert panel.findChild(object, "param-since").date().toPython() == dt.date(2025, 2, 3)
    assert panel.findChild(object, "param-note-none").isChecked()


def test_no_consumer_running_is_said_and_the_message_clears_on_another_task(qtbot, catalogue):
    panel, _ = make(qtbot, catalogue, Inspector(live_workers=0))
    panel.select_task("other")
    with qtbot.waitSignal(panel.submitted):
        panel.submit()
    text = panel.result.text()
    assert "new-task-id" in text
    assert "right away" not in text and "no consumer is running" in text
    panel.select_task("report")
    assert panel.result.text() == ""


def test_right_away_when_a_worker_is_idle(qtbot, catalogue):
    panel, _ = make(qtbot, catalogue, Inspector(live_workers=2))
    panel.select_task("other")
    with qtbot.waitSignal(panel.submitted):
        panel.submit()
    assert "should start right away" in panel.result.text()


def test_signatures_read_as_written(qtbot):
    import enum
    import inspect

    from desktop_app.core.catalogue import signature_text

    class Kind(enum.Enum):
        SUMMARY = "summary"

    def f(
        a: int, *nums: int, since: dt.date | None = None, kind: Kind = Kind.SUMMARY, **kw: str
    ) -> None:
        pass

    def g(a, *, b: str = "x") -> dict:
        return {}

    assert signature_text(inspect.signature(f)) == (
        "(a: int, *nums: int, since: date | None = None, kind: Kind = Kind.SUMMARY, "
        "**kw: str) -> None"
    )
    assert signature_text(inspect.signature(g)) == "(a, *, b: str = 'x') -> dict"


def test_a_queue_without_tasks_says_how_to_submit(qtbot):
    from huey import MemoryHuey

    from desktop_app.core.catalogue import Catalogue
    from desktop_app.core.dispatcher import Dispatcher
    from desktop_app.gui.submit_panel import SubmitPanel

    huey = MemoryHuey("empty")
    panel = SubmitPanel(Catalogue(huey), Dispatcher(huey))
    qtbot.addWidget(panel)
    assert not panel.submit_button.isEnabled()
    assert "--huey" in panel.error.text()
