"""One task in full: arguments, result or traceback, timeline, and what can be done to it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.states import FINAL_STATES, WAITING_STATES, label
from desktop_app.gui.jobs import run_job
from desktop_app.gui.models import seconds


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if ts else "—"


class TaskDetails(QWidget):
    """Shows ``Inspector.show(task_id)``, read on the thread pool."""

    retry_requested = Signal(str)
    revoke_requested = Signal(str)
    edit_requested = Signal(str, list, dict)
    message = Signal(str)

    def __init__(self, inspector: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.inspector = inspector
        self.info: dict | None = None
        self.task_id: str | None = None
        self.title = QLabel("Select a task to see its details.")
        self.title.setObjectName("details-title")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)
        self.facts = QLabel()
        self.facts.setObjectName("details-facts")
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        # "retry of" and "retried as" are links to those tasks
        self.facts.linkActivated.connect(self.show_task)
        self.facts_box = QScrollArea()
        self.facts_box.setObjectName("details-facts-box")
        self.facts_box.setWidgetResizable(True)
        self.facts_box.setFrameShape(QFrame.Shape.NoFrame)
        self.facts_box.setWidget(self.facts)
        self.facts.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setObjectName("details-text")
        self.text.setPlaceholderText("Result or traceback")
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.timeline = QTreeWidget()
        self.timeline.setObjectName("details-timeline")
        self.timeline.setHeaderLabels(["Time", "Event", "Worker", "Detail"])
        self.timeline.setRootIsDecorated(False)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Run again with the same arguments (Ctrl+R)")
        self.edit_button = QPushButton("Edit and resubmit")
        self.revoke_button = QPushButton("Revoke")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the result or traceback")
        self.open_button = QPushButton("Open in window")
        self.open_button.setObjectName("details-open")
        self.open_button.setToolTip("Show the result or traceback in a window of its own")
        self.open_button.clicked.connect(self.open_text_window)
        self.windows: list[QPlainTextEdit] = []
        self.retry_button.clicked.connect(lambda: self._ask(self.retry_requested))
        self.revoke_button.clicked.connect(lambda: self._ask(self.revoke_requested))
        self.edit_button.clicked.connect(self._edit)
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.text.toPlainText())
        )
        buttons = QHBoxLayout()
        for b in (
            self.retry_button,
            self.edit_button,
            self.revoke_button,
            self.copy_button,
            self.open_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        # Tabs, so that the text has the whole height and nothing here grows the panel
        # when another task is shown (the facts' lines moved the window's splitters).
        self.tabs = QTabWidget()
        self.tabs.setObjectName("details-tabs")
        self.tabs.addTab(self.text, "Result")
        self.tabs.addTab(self.facts_box, "Facts")
        self.tabs.addTab(self.timeline, "Timeline")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.title.setFixedHeight(2 * self.title.fontMetrics().lineSpacing() + 6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(buttons)
        layout.addWidget(self.tabs, 1)
        self._buttons()

    def show_task(self, task_id: str | None) -> None:
        """Load ``task_id`` (off the GUI thread) and show it."""
        self.task_id = task_id
        if not task_id:
            return
        self.title.setText(f"Loading {task_id}…")
        run_job(lambda: self.inspector.show(task_id), self._loaded, self._failed)

    def refresh(self) -> None:
        if self.task_id:
            self.show_task(self.task_id)

    def _failed(self, message: str) -> None:
        self.title.setText(message)
        self.info = None
        self._buttons()

    def _loaded(self, info: dict) -> None:
        if info.get("id") != self.task_id:
            return  # an older request answered after a newer one
        self.info = info
        self.title.setText(
            f"<b>{info.get('task') or '?'}</b> — {label(info['state'])}"
            f"<br><small>{info['id']}</small>"
        )
        args = info.get("args_preview") or ""
        facts = [f"arguments: {args or '(none)'}"]
        for key, name in (
            ("enqueued_at", "enqueued"),
            ("started_at", "started"),
            ("finished_at", "finished"),
        ):
            if info.get(key):
                facts.append(f"{name}: {_when(info[key])}")
        if info.get("duration") is not None:
            facts.append(f"duration: {seconds(info['duration'])}")
        if info.get("worker"):
            facts.append(f"worker: {info['worker']} (pid {info.get('pid')})")
        if info.get("attempts"):
            facts.append(f"attempts: {info['attempts']}")
        django = info.get("django")
        if django:  # a django.tasks task: what Django knows of it
            errors = ", ".join(e["exception"] for e in django.get("errors") or [])
            ran_on = ", ".join(django.get("worker_ids") or [])
            facts.append(
                f"django.tasks: {django['task']}, {django['status']}"
                + (f" ({errors})" if errors else "")
                + (f" on {ran_on}" if ran_on else "")
            )
        lines = [_escape(f) for f in facts]
        for key, name in (("retry_of", "retry of"), ("retried_as", "retried as")):
            if info.get(key):
                other = _escape(str(info[key]))
                lines.append(f'{name}: <a href="{other}">{other}</a>')
        self.facts.setText("<br>".join(lines))
        self.tabs.setTabText(0, "Traceback" if info.get("traceback") else "Result")
        if info.get("traceback"):
            self.text.setPlainText(info["traceback"])
            self.text.moveCursor(QTextCursor.MoveOperation.End)  # the exception line
        elif info.get("error"):
            self.text.setPlainText(info["error"])
        elif info.get("result") is not None:
            self.text.setPlainText(json.dumps(info["result"], indent=2, ensure_ascii=False))
        else:
            self.text.setPlainText(info.get("result_preview") or "")
        self.timeline.clear()
        for e in info.get("events", []):
            data = e.get("data") or {}
            detail = ""
            if e["kind"] == "progress":
                detail = f"{data.get('progress', 0):.0%} {data.get('progress_message') or ''}"
            elif data.get("error"):
                detail = str(data["error"])
            elif data.get("result_preview"):
                detail = str(data["result_preview"])
            elif data.get("duration") is not None:
                detail = seconds(data["duration"])
            self.timeline.addTopLevelItem(
                QTreeWidgetItem(
                    [_when(e["ts"]), label(e["kind"]), e.get("worker") or "", detail.strip()]
                )
            )
        for column in range(3):
            self.timeline.resizeColumnToContents(column)
        self._buttons()

    def _buttons(self) -> None:
        state = (self.info or {}).get("state")
        exact = bool(self.info and self.info.get("args") is not None)
        self.retry_button.setEnabled(state in FINAL_STATES and exact)
        self.edit_button.setEnabled(exact)
        self.revoke_button.setEnabled(state in WAITING_STATES)
        self.copy_button.setEnabled(self.info is not None)
        self.open_button.setEnabled(self.info is not None)

    def open_text_window(self) -> None:
        """The result or traceback in a window of its own, as big as the user likes."""
        window = QPlainTextEdit(self, readOnly=True)
        window.setWindowFlag(Qt.WindowType.Window)
        window.setObjectName("details-window")
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.destroyed.connect(lambda: self.windows.remove(window))
        window.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        window.setPlainText(self.text.toPlainText())
        info = self.info or {}
        window.setWindowTitle(
            f"{self.tabs.tabText(0)} of {info.get('task') or '?'} {info.get('id', '')}"
        )
        window.resize(900, 600)
        self.windows.append(window)
        window.show()

    def _ask(self, signal: Any) -> None:
        if self.info:
            signal.emit(self.info["id"])

    def _edit(self) -> None:
        if self.info and self.info.get("args") is not None:
            self.edit_requested.emit(
                self.info["task"], list(self.info["args"]), dict(self.info.get("kwargs") or {})
            )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
