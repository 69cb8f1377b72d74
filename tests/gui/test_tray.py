"""Notifications: failures always, long tasks or everything if asked; in-window fallback."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QMainWindow

from desktop_app.gui.tray import Notifier


class Window(QMainWindow):
    consumer = None

    def quit(self) -> None:
        self.close()


def event(kind, duration=None, **data):
    payload = dict(data)
    if duration is not None:
        payload["duration"] = duration
    return {"kind": kind, "task_id": "t-1", "task_name": "tasks.demo.send_email", "data": payload}


def make(qtbot, mode=None):
    window = Window()
    qtbot.addWidget(window)
    settings = QSettings("huey-desk-tests", "notify")
    settings.clear()
    if mode:
        settings.setValue("notify/mode", mode)
    return window, Notifier(window, settings)


def test_failures_are_always_told(qtbot):
    window, notifier = make(qtbot)
    with qtbot.waitSignal(notifier.notified) as told:
        notifier.on_events([event("error", error="RuntimeError('boom')")])
    assert told.args == ["send_email failed", "RuntimeError('boom')", "t-1"]
    assert notifier.failures_unseen == 1
    if notifier.tray is None:  # no tray here: the window says it
        assert "send_email failed" in window.statusBar().currentMessage()
    notifier.seen()
    assert notifier.failures_unseen == 0


def test_an_error_that_will_be_retried_is_not_a_failure_yet(qtbot):
    _, notifier = make(qtbot)
    with qtbot.assertNotEmitted(notifier.notified):
        notifier.on_events([event("error", error="flaky", retries=2)])
    assert notifier.failures_unseen == 0


def test_long_tasks_by_default_all_or_none_when_chosen(qtbot):
    _, notifier = make(qtbot)
    with qtbot.assertNotEmitted(notifier.notified):
        notifier.on_events([event("complete", duration=0.5)])
    with qtbot.waitSignal(notifier.notified) as told:
        notifier.on_events([event("complete", duration=42.0)])
    assert told.args[0] == "send_email finished"
    notifier.set_mode("all")
    with qtbot.waitSignal(notifier.notified):
        notifier.on_events([event("complete", duration=0.1)])
    notifier.set_mode("none")
    with qtbot.assertNotEmitted(notifier.notified):
        notifier.on_events([event("error", error="x"), event("complete", duration=99)])


def test_mode_persists(qtbot):
    _, notifier = make(qtbot, mode="all")
    assert notifier.mode == "all"
    notifier.set_mode("failures")
    assert QSettings("huey-desk-tests", "notify").value("notify/mode") == "failures"


class FakeConsumer(QObject):
    state_changed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.state = "running"
        self.calls: list[str] = []

    def stop(self) -> None:
        self.calls.append("stop")

    def start(self) -> None:
        self.calls.append("start")

    def set(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)


def test_the_menu_says_stop_and_start_and_enables_the_one_that_applies(qtbot):
    window = Window()
    window.consumer = FakeConsumer()
    qtbot.addWidget(window)
    notifier = Notifier(window, QSettings("huey-desk-tests", "notify"))
    texts = [a.text() for a in notifier.menu.actions()]
    assert "Stop consumer" in texts and "Start consumer" in texts
    assert not any("Pause" in t or "Resume" in t for t in texts)
    assert notifier.stop_action.isEnabled() and not notifier.start_action.isEnabled()
    notifier.stop_action.trigger()
    assert window.consumer.calls == ["stop"]
    window.consumer.set("stopping")
    assert not notifier.stop_action.isEnabled() and not notifier.start_action.isEnabled()
    window.consumer.set("stopped")
    assert not notifier.stop_action.isEnabled() and notifier.start_action.isEnabled()


def test_notifications_use_the_words_users_see(qtbot):
    _, notifier = make(qtbot)
    with qtbot.waitSignal(notifier.notified) as told:
        notifier.on_events([event("timeout")])
    assert told.args[:2] == ["send_email timed out", "timed out"]


def alert_update(cleared_at=None):
    alert = {"rule": "deeper", "message": "The queue holds 150 tasks.", "fired_at": 1.0}
    alert["cleared_at"] = cleared_at
    return {"changes": [alert], "active": [] if cleared_at else [alert]}


def test_an_alert_is_told_when_it_fires_and_when_it_clears_and_not_in_between(qtbot):
    _window, notifier = make(qtbot)
    told = []
    notifier.notified.connect(lambda *args: told.append(args[:2]))
    notifier.on_alerts(alert_update())
    notifier.on_alerts({"changes": [], "active": alert_update()["active"]})  # still on
    notifier.on_alerts(alert_update(cleared_at=5.0))
    assert told == [
        ("Alert: Queue too deep", "The queue holds 150 tasks."),
        ("Cleared: Queue too deep", "The condition no longer holds."),
    ]


def test_no_alert_is_told_when_notifications_are_off(qtbot):
    _window, notifier = make(qtbot, mode="none")
    told = []
    notifier.notified.connect(lambda *args: told.append(args))
    notifier.on_alerts(alert_update())
    assert told == []
