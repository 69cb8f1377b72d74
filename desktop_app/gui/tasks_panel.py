"""The tasks panel: the task history, filtered in the store, beside one task's details."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.bulk import ACTION_STATES, RETRY, REVOKE, BulkAction, Selection
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
from desktop_app.gui.bulk_runner import BulkBar, BulkRunner
from desktop_app.gui.details import TaskDetails
from desktop_app.gui.models import Role
from desktop_app.gui.panel import Panel, table
from desktop_app.gui.task_history import TasksModel

FILTER_DELAY_MS = 150  # typing pause after which the tasks filter is applied
FOLLOW_EVERY_S = 2.0  # a view of a transient state is read again at most this often
# The "when" filter: tasks that reached their state within the last ... (seconds).
SINCE_CHOICES = (
    ("any time", None),
    ("last 15 minutes", 900),
    ("last hour", 3600),
    ("last 24 hours", 86400),
    ("last 7 days", 7 * 86400),
)


class TasksPanel(Panel):
    """Tasks table with state, task and text filters, and the selected task's details."""

    message = Signal(str, int)  # for the status bar: text, milliseconds

    def __init__(
        self, model: TasksModel, catalogue: Any, inspector: Any, dispatcher: Any = None
    ) -> None:
        self.model = model
        # a window on the journal's history, filtered in the store
        self.view = table(
            model, "results-view", (80, 120, 170, 80, 70, 70, 260), sorted_here=False
        )
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
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
        self.since_combo = QComboBox()
        self.since_combo.setObjectName("since-filter")
        self.since_combo.setToolTip("Only tasks that reached their state in this time")
        for text, seconds in SINCE_CHOICES:
            self.since_combo.addItem(text, seconds)
        t.addWidget(self.state_combo)
        t.addWidget(self.task_combo)
        t.addWidget(self.since_combo)
        t.addWidget(self.text_filter)
        # bulk retry and revoke: the selected rows, or every task the filter matches
        self.confirm: Callable[[str], bool] = self._ask_yes_no  # tests replace it
        self.runner = BulkRunner(dispatcher)
        self.bulk_bar = BulkBar(self.runner)
        # while a text filter's first look has covered only the newest tasks
        self.search_note = QLabel()
        self.search_note.setObjectName("search-note")
        self.search_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.search_note.hide()
        model.modelReset.connect(self._show_search_note)
        model.modelReset.connect(self._show_count)  # "N shown" for the new answer now
        self._counts: dict[str, int] | None = None  # the last status's, for the title
        header_box = QWidget()
        h = QVBoxLayout(header_box)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(tools)
        h.addWidget(self.search_note)
        h.addWidget(self.bulk_bar)
        self.details = TaskDetails(inspector)
        self.view.selectionModel().currentRowChanged.connect(self._show_selected)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        super().__init__("Tasks", self.splitter, header_box)
        self.runner.setParent(self)
        self.runner.counted.connect(self._confirm_bulk)
        self.runner.finished.connect(self._bulk_finished)
        self.runner.failed.connect(self._bulk_failed)
        self.bulk_actions = self._bulk_actions()
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.view.addActions(self.bulk_actions)
        # Typing restarts a short wait; the store is asked once the typing pauses.
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.text_filter.textChanged.connect(self._filter_timer.start)
        self.state_combo.currentIndexChanged.connect(self.apply_filter)
        self.task_combo.currentIndexChanged.connect(self.apply_filter)
        self.since_combo.currentIndexChanged.connect(self.apply_filter)
        self._next_follow = 0.0

    def _show_search_note(self) -> None:
        """Say that the rows shown are what a first look found, not the whole answer."""
        looked = self.model.looked
        if looked is None:
            self.search_note.hide()
            return
        covered, tasks = looked
        found = self.model.rowCount()
        text = (
            f"Searching: {found:,} found in the newest {covered:,} of {tasks:,} tasks; "
            "looking through the older ones…"
        )
        self.search_note.setText(text)
        self.search_note.setToolTip(text)
        self.search_note.show()

    def _show_selected(self, current: Any, _previous: Any = None) -> None:
        row = current.data(Role.ROW) if current.isValid() else None
        self.details.show_task(row.get("task_id") if row else None)

    # -- filter and order --------------------------------------------------------------
    def apply_filter(self) -> None:
        """Ask the store for the tasks that match the state, task and text chosen."""
        self._filter_timer.stop()
        current = self.model.query
        seconds = self.since_combo.currentData()
        self.model.set_query(
            TaskQuery(
                state=self.state_combo.currentData(),
                task_name=self.task_combo.currentData(),
                text=self.text_filter.text().strip(),
                order=current.order,
                descending=current.descending,
                since=None if seconds is None else time.time() - seconds,
            )
        )

    # -- bulk retry and revoke -----------------------------------------------------------
    def _bulk_actions(self) -> list[QAction]:
        made = []
        for text, name, call in (
            ("Retry selected tasks", "retry-selected", lambda: self.bulk_selected(RETRY)),
            ("Revoke selected tasks", "revoke-selected", lambda: self.bulk_selected(REVOKE)),
            (
                "Retry all matching this filter…",
                "retry-matching",
                lambda: self.bulk_matching(RETRY),
            ),
            (
                "Revoke all matching this filter…",
                "revoke-matching",
                lambda: self.bulk_matching(REVOKE),
            ),
        ):
            action = QAction(text, self)
            action.setObjectName(name)
            action.triggered.connect(call)
            made.append(action)
        return made

    def selected_ids(self) -> list[str]:
        """Ids of the tasks selected in the table (rows not read yet are skipped)."""
        rows = [i.data(Role.ROW) for i in self.view.selectionModel().selectedRows()]
        return [r["task_id"] for r in rows if r and r.get("task_id")]

    def bulk_selected(self, action: str) -> None:
        """Retry or revoke the selected rows (after a confirmation)."""
        ids = self.selected_ids()
        if not ids:
            self.message.emit("Select tasks in the table first.", 5000)
            return
        self._count(action, Selection(task_ids=tuple(ids)))

    def bulk_matching(self, action: str) -> None:
        """Retry or revoke every task the filter matches (after a confirmation)."""
        query = self.model.query
        if query.state is not None and query.state not in ACTION_STATES[action]:
            verb = "retried" if action == RETRY else "revoked"
            words = ", ".join(label(s) for s in ACTION_STATES[action])
            self.message.emit(
                f"{label(query.state).capitalize()} tasks cannot be {verb}; filter by one of: "
                f"{words}.",
                8000,
            )
            return
        selection = Selection(
            state=query.state, task_name=query.task_name, text=query.text, since=query.since
        )
        self._count(action, selection)

    def _count(self, action: str, selection: Selection) -> None:
        if self.runner.dispatcher is None:
            return
        if self.runner.busy:
            self.message.emit("A bulk action is under way; wait for it or cancel it.", 5000)
            return
        self.bulk_bar.counting(selection.describe())
        self.runner.count(action, selection)

    def _confirm_bulk(self, bulk: BulkAction, total: int) -> None:
        verb = "Retry" if bulk.action == RETRY else "Revoke"
        if total == 0:
            self.bulk_bar.hide()
            self.message.emit(f"No tasks to {verb.lower()}: none match.", 6000)
            return
        what = bulk.selection.describe()
        question = f"{verb} {total:,} task{'s' if total != 1 else ''} ({what})?"
        if not self.confirm(question):
            self.bulk_bar.hide()
            return
        self.bulk_bar.running(bulk.action, total)
        self.runner.start(bulk, total)

    def _bulk_finished(self, progress: Any) -> None:
        self.bulk_bar.hide()
        self.message.emit(progress.summary(), 15000)
        self.details.refresh()

    def _bulk_failed(self, sentence: str) -> None:
        self.bulk_bar.hide()
        self.message.emit(f"The bulk action stopped: {sentence}", 15000)

    def _ask_yes_no(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Huey Desk", question)
        return answer == QMessageBox.StandardButton.Yes

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
        self._counts = status["counts"]
        self._show_count()

    def _show_count(self) -> None:
        if self._counts is None:
            return
        shown = f"{self.model.rowCount():,}" + ("" if self.model.counted else "+")
        self.set_count(f"— {ended(self._counts)} · {shown} shown")


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
