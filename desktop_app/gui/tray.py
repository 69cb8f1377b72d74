"""Tray icon and notifications: failures always, long tasks or everything if asked.

Without a system tray, notifications appear in the window's status bar instead.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop_app.core.alerts import RULE_LABELS
from desktop_app.core.states import FAILED_STATES, INTERRUPTED, label
from desktop_app.gui.icons import icon
from desktop_app.gui.models import seconds, short

MODES = {
    "failures": "Failures only",
    "long": "Failures and tasks longer than 10 s",
    "all": "Every finished task",
    "none": "None",
}
DEFAULT_MODE = "long"
LONG_TASK_S = 10.0


class Notifier(QObject):
    """Watches journal events and tells the user about the ones that matter."""

    notified = Signal(str, str, str)  # title, text, task id
    open_task = Signal(str)  # a notification was clicked

    def __init__(self, window: Any, settings: QSettings) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.mode = str(settings.value("notify/mode", DEFAULT_MODE))
        if self.mode not in MODES:
            self.mode = DEFAULT_MODE
        self.failures_unseen = 0
        self.busy = False
        self._last_task = ""
        self.tray: QSystemTrayIcon | None = None
        self.menu = self._menu()  # made without a tray too: tests look at it
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icon(), self)
            self.tray.setToolTip("Huey Desk")
            self.tray.setContextMenu(self.menu)
            self.tray.activated.connect(self._activated)
            self.tray.messageClicked.connect(lambda: self.open_task.emit(self._last_task))
            self.tray.show()

    # -- menu --------------------------------------------------------------------------
    def _menu(self) -> QMenu:
        menu = QMenu(self.window)
        show = menu.addAction("Show / hide window")
        show.triggered.connect(self.toggle_window)
        consumer = self.window.consumer
        self.stop_action: QAction | None = None
        self.start_action: QAction | None = None
        if consumer is not None:
            # the window's words (Stop / Start); only the one that applies is enabled
            self.stop_action = menu.addAction("Stop consumer")
            self.start_action = menu.addAction("Start consumer")
            self.stop_action.triggered.connect(consumer.stop)
            self.start_action.triggered.connect(consumer.start)
            consumer.state_changed.connect(self._consumer_state)
            self._consumer_state(consumer.state)
        menu.addSeparator()
        menu.addMenu(self.mode_menu())
        menu.addSeparator()
        menu.addAction("Quit").triggered.connect(self.window.quit)
        return menu

    def _consumer_state(self, state: str) -> None:
        if self.stop_action is None or self.start_action is None:
            return
        running = state in ("starting", "running")
        self.stop_action.setEnabled(running)
        self.start_action.setEnabled(not running and state != "stopping")

    def mode_menu(self) -> QMenu:
        """Notifications: which finished tasks to tell about (kept in the settings)."""
        menu = QMenu("Notifications", self.window)
        group = QActionGroup(menu)
        for key, text in MODES.items():
            action = QAction(text, menu, checkable=True, checked=key == self.mode)
            action.triggered.connect(lambda _checked, k=key: self.set_mode(k))
            group.addAction(action)
            menu.addAction(action)
        return menu

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.settings.setValue("notify/mode", mode)

    def toggle_window(self) -> None:
        if self.window.isVisible():
            self.window.hide()
        else:
            self.window.show()
            self.window.raise_()
            self.window.activateWindow()
            self.seen()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window()

    # -- events ------------------------------------------------------------------------
    def on_events(self, events: list[dict]) -> None:
        for e in events:
            kind = e["kind"]
            name = short(e.get("task_name")) or "a task"
            data = e.get("data") or {}
            if kind in FAILED_STATES and not data.get("retries"):  # a retried error is not final
                self.failures_unseen += 1
                if self.mode != "none":
                    ended = "was interrupted" if kind == INTERRUPTED else label(kind)
                    self.notify(
                        f"{name} {ended}", str(data.get("error") or label(kind)), e["task_id"]
                    )
            elif kind == "complete":
                duration = data.get("duration") or 0.0
                if self.mode == "all" or (self.mode == "long" and duration >= LONG_TASK_S):
                    self.notify(f"{name} finished", f"after {seconds(duration)}", e["task_id"])
        self._update_icon()

    def on_alerts(self, update: dict) -> None:
        """An alert is told once when it fires and once when it clears (unless
        notifications are off); while it holds, nothing more."""
        if self.mode == "none":
            return
        for alert in update["changes"]:
            rule = RULE_LABELS.get(alert["rule"], alert["rule"])
            if alert["cleared_at"] is None:
                self.notify(f"Alert: {rule}", alert["message"], "")
            else:
                self.notify(f"Cleared: {rule}", "The condition no longer holds.", "")

    def on_status(self, status: dict) -> None:
        self.busy = any(w["state"] == "busy" for w in status["workers"])
        self._update_icon()

    def seen(self) -> None:
        """The user has looked: failures are no longer news."""
        self.failures_unseen = 0
        self._update_icon()

    def notify(self, title: str, text: str, task_id: str) -> None:
        self._last_task = task_id or ""
        self.notified.emit(title, text, self._last_task)
        if self.tray is not None and self.tray.supportsMessages():
            level = (
                QSystemTrayIcon.MessageIcon.Warning
                if any(w in title for w in ("failed", "interrupted", "timed out", "Alert:"))
                else QSystemTrayIcon.MessageIcon.Information
            )
            self.tray.showMessage(title, text[:300], level, 8000)
        else:
            self.window.statusBar().showMessage(f"{title}: {text[:200]}", 15_000)

    def _update_icon(self) -> None:
        if self.tray is None:
            return
        if self.failures_unseen:
            self.tray.setIcon(icon("huey-desk-failed"))
            self.tray.setToolTip(f"Huey Desk — {self.failures_unseen} failed since you looked")
        elif self.busy:
            self.tray.setIcon(icon("huey-desk-busy"))
            self.tray.setToolTip("Huey Desk — working")
        else:
            self.tray.setIcon(icon())
            self.tray.setToolTip("Huey Desk — idle")
