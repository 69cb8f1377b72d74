"""One task's details: the words users see, what can be done to it, room for the text."""

from __future__ import annotations

from desktop_app.gui.details import TaskDetails


def info(state="complete", **extra):
    return {
        "id": "t-1",
        "task": "tasks.demo.noop",
        "state": state,
        "args": [],
        "kwargs": {},
        "args_preview": "",
        "events": [
            {"kind": "executing", "ts": 1.0, "worker": "w1", "data": {}},
            {"kind": state, "ts": 2.0, "worker": "w1", "data": {}},
        ],
        **extra,
    }


def make(qtbot):
    details = TaskDetails(None)
    qtbot.addWidget(details)
    details.task_id = "t-1"
    return details


def test_states_are_shown_by_their_words(qtbot):
    details = make(qtbot)
    details._loaded(info("complete"))
    assert "done" in details.title.text() and "complete" not in details.title.text()
    kinds = [details.timeline.topLevelItem(i).text(1) for i in range(2)]
    assert kinds == ["running", "done"]
    assert details.retry_button.isEnabled() and not details.revoke_button.isEnabled()
    details._loaded(info("enqueued"))
    assert "pending" in details.title.text()
    assert details.revoke_button.isEnabled() and not details.retry_button.isEnabled()


def test_the_text_opens_in_a_window_of_its_own(qtbot):
    details = make(qtbot)
    details._loaded(info("error", traceback="Traceback...\nRuntimeError: boom\n"))
    assert details.tabs.tabText(0) == "Traceback"
    details.open_button.click()
    (window,) = details.windows
    assert window.isWindow() and window.isVisible()
    assert window.toPlainText() == details.text.toPlainText()
    assert window.windowTitle() == "Traceback of tasks.demo.noop t-1"
    window.close()  # deleted on close, and forgotten
    qtbot.waitUntil(lambda: details.windows == [])
