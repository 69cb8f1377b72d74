"""The tasks panel: the task history, filtered in the store, beside one task's details."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QSplitter, QWidget

from desktop_app.core.history import TaskQuery
from desktop_app.core.states import (
    COMPLETE,
    ERROR,
    FILTER_STATES,
    FINAL_STATES,
    INTERRUPTED,
    TRANSIENT_STATES,
    label,
)
from desktop_app.gui.details import TaskDetails
from desktop_app.gui.models import Role
from desktop_app.gui.panel import Panel, table
from desktop_app.gui.task_history import TasksModel

FILTER_DELAY_MS = 150  # typing pause after which the tasks filter is applied
FOLLOW_EVERY_S = 2.0  # a view of a transient state is read again at most this often


class TasksPanel(Panel):
    """Tasks table with state, task and text filters, and the selected task's details."""

    message = Signal(str, int)  # for the status bar: text, milliseconds

    def __init__(self, model: TasksModel, catalogue: Any, inspector: Any) -> None:
        self.model = model
        # a window on the journal's history, filtered in the store
        self.view = table(
            model, "results-view", (80, 120, 170, 80, 70, 70, 260), sorted_here=False
        )
        # Sorting by a column runs in the store; no indicator: newest first, live.
        header = self.view.horizontalHeader()
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
        self.view.setSortingEnabled(True)
        header.sortIndicatorChanged.connect(self._sort_changed)
        model.sort_refused.connect(self._sort_refused)
        tools = QWidget()
        t = QHBoxLayout(tools)
        t.setContentsMargins(0, 0, 0, 0)
        self.state_combo = QComboBox()
        self.state_combo.setObjectName("state-filter")
        self.state_combo.addItem("all states", None)
        for state in FILTER_STATES:  # the words users read; the store's names as data
            self.state_combo.addItem(label(state), state)
        self.task_combo = QComboBox()
        self.task_combo.setObjectName("task-filter")
        self.task_combo.addItem("all tasks", None)
        for entry in catalogue:
            self.task_combo.addItem(entry.short_name, entry.name)
        self.text_filter = QLineEdit(placeholderText="Filter: id, task, arguments, error")
        self.text_filter.setObjectName("results-filter")
        self.text_filter.setClearButtonEnabled(True)
        t.addWidget(self.state_combo)
        t.addWidget(self.task_combo)
        t.addWidget(self.text_filter)
        self.details = TaskDetails(inspector)
        self.view.selectionModel().currentRowChanged.connect(self._show_selected)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        super().__init__("Tasks", self.splitter, tools)
        # Typing restarts a short wait; the store is asked once the typing pauses.
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.text_filter.textChanged.connect(self._filter_timer.start)
        self.state_combo.currentIndexChanged.connect(self.apply_filter)
        self.task_combo.currentIndexChanged.connect(self.apply_filter)
        self._next_follow = 0.0

    def _show_selected(self, current: Any, _previous: Any = None) -> None:
        row = current.data(Role.ROW) if current.isValid() else None
        self.details.show_task(row.get("task_id") if row else None)

    # -- filter and order --------------------------------------------------------------
    def apply_filter(self) -> None:
        """Ask the store for the tasks that match the state, task and text chosen."""
        self._filter_timer.stop()
        current = self.model.query
        self.model.set_query(
            TaskQuery(
                state=self.state_combo.currentData(),
                task_name=self.task_combo.currentData(),
                text=self.text_filter.text().strip(),
                order=current.order,
                descending=current.descending,
            )
        )

    def _sort_changed(self, column: int, _order: Qt.SortOrder) -> None:
        if column >= 0 and not self.model.query.live:
            self.message.emit(
                "Sorted in the store: new tasks appear again in the default order "
                "(View → Newest first).",
                6000,
            )

    def _sort_refused(self, why: str) -> None:
        self.message.emit(why, 8000)
        header = self.view.horizontalHeader()
        order = Qt.SortOrder.DescendingOrder
        if self.model.query.order in self.model.sort_keys:
            column = self.model.sort_keys.index(self.model.query.order)
            if not self.model.query.descending:
                order = Qt.SortOrder.AscendingOrder
        else:
            column = -1
        header.blockSignals(True)  # show the order in force again, without sorting
        header.setSortIndicator(column, order)
        header.blockSignals(False)
        header.viewport().update()

    def newest_first(self) -> None:
        """Back to the default order: newest first, with new tasks arriving on top."""
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
        self.model.sort(-1)

    # -- live updates ------------------------------------------------------------------
    def _follow_transient_state(self, states: dict) -> None:
        """A view of one transient state (enqueued, executing...) is read again when the
        number of tasks in that state changed: its tasks leave it all the time, and rows
        counted by offset would shift under the view.  At most every few seconds."""
        query = self.model.query
        if query.state not in TRANSIENT_STATES or query.text or query.task_name:
            return
        now = time.monotonic()
        if now < self._next_follow or self.model.shown_generation != self.model.generation:
            return
        if states.get(query.state, 0) != self.model.rowCount():
            self._next_follow = now + FOLLOW_EVERY_S
            self.model.refresh()

    def refresh_details_for(self, rows: list[dict]) -> None:
        """Read the shown task again when one of these changed rows is it."""
        shown = self.details.task_id
        if shown and any(r.get("task_id") == shown for r in rows):
            self.details.refresh()

    def show_status(self, status: dict) -> None:
        """Counts in the title, from the monitor's status; follows a transient filter."""
        self._follow_transient_state(status.get("states", {}))
        shown = f"{self.model.rowCount():,}" + ("" if self.model.counted else "+")
        self.set_count(f"— {ended(status['counts'])} · {shown} shown")


def ended(counts: dict[str, int]) -> str:
    """How the finished tasks ended, in words: done and failed always, interrupted and the
    other ends (revoked, expired...) when there are any, so the parts add up to the whole."""
    parts = [
        f"{counts.get(COMPLETE, 0):,} {label(COMPLETE)}",
        f"{counts.get(ERROR, 0):,} {label(ERROR)}",
    ]
    if counts.get(INTERRUPTED):
        parts.append(f"{counts[INTERRUPTED]:,} {label(INTERRUPTED)}")
    other = sum(counts.get(s, 0) for s in FINAL_STATES if s not in (COMPLETE, ERROR, INTERRUPTED))
    if other:
        parts.append(f"{other:,} other")
    return ", ".join(parts)
