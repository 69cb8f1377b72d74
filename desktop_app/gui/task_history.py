"""The tasks table: a windowed model over the journal's task history, newest first."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal

from desktop_app.core.history import TaskQuery
from desktop_app.core.states import label
from desktop_app.gui.models import Column, clock, seconds, short
from desktop_app.gui.windowed_model import WindowedModel

SORT_LIMIT = 50_000  # tasks a column sort is offered for (about 0.3 s a block here)


class TasksModel(WindowedModel):
    """Tasks from the journal: state, task, arguments, worker, times, outcome.

    ``set_query`` asks the monitor for a new window (by ``query_requested``); the
    monitor's answers arrive through ``on_opened``, ``on_counted`` and ``on_block``, and
    live changes through ``apply``.
    """

    key = "task_id"
    columns = (
        Column("State", lambda r: label(r.get("state")), lambda r: r.get("state")),
        Column("Task", lambda r: short(r.get("task_name"))),
        Column("Arguments", lambda r: r.get("args_preview")),
        Column("Worker", lambda r: r.get("worker")),
        Column(
            "Started", lambda r: clock(r.get("started_at")), lambda r: r.get("started_at") or 0.0
        ),
        Column(
            "Duration", lambda r: seconds(r.get("duration")), lambda r: r.get("duration") or 0.0
        ),
        Column("Result / error", lambda r: r.get("error") or r.get("result_preview")),
        Column("ID", lambda r: r.get("task_id")),
    )

    query_requested = Signal(object)  # {"generation", "query"}
    sort_refused = Signal(str)  # why a sort was not done (too many tasks to sort)
    # What each column sorts by, in the store (None: creation order)
    sort_keys = (
        "state",
        "task_name",
        "args_preview",
        "worker",
        "started_at",
        "duration",
        "error",
        "task_id",
    )

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.query = TaskQuery()
        self._pending: dict[int, TaskQuery] = {}
        # a bounded first look at free text: (newest tasks it covers, tasks), until the
        # whole answer arrives; None when what is shown is the whole answer
        self.looked: tuple[int, int] | None = None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort in the store (a header click); column -1: newest first, live again.

        A sorted view is a snapshot: new tasks show when it is back to newest first."""
        key = self.sort_keys[column] if 0 <= column < len(self.sort_keys) else None
        descending = key is None or order == Qt.SortOrder.DescendingOrder
        if key is not None and (not self.counted or self.total > SORT_LIMIT):
            # SQLite sorts every match for each block read: seconds at a million tasks.
            self.sort_refused.emit(
                f"Sorting is done for up to {SORT_LIMIT:,} tasks; narrow the filter "
                "(state, task or text) first."
            )
            return
        if (key, descending) != (self.query.order, self.query.descending):
            self.set_query(replace(self.query, order=key, descending=descending))

    def set_query(self, query: TaskQuery) -> None:
        """Show the tasks that match ``query`` (rows appear when the monitor answers)."""
        self.query = query
        generation = self.begin()
        self._pending = {generation: query}
        self.query_requested.emit({"generation": generation, "query": query})

    def refresh(self) -> None:
        """Open the current query again (a new anchor: everything re-read)."""
        self.set_query(self.query)

    def on_opened(self, answer: dict) -> None:
        query = self._pending.get(answer["generation"])
        if query is None:
            return
        matches = query.matches if query.live else _nothing
        looked = answer.get("looked")
        self.looked = tuple(looked) if looked else None
        self.opened(
            answer["generation"], answer["anchor"], answer["total"], answer["rows"], matches
        )

    def on_counted(self, answer: dict) -> None:
        self.counted_total(answer["generation"], answer["total"], answer.get("anchor"))

    def on_block(self, answer: dict) -> None:
        self.put_block(answer["generation"], answer["anchor"], answer["block"], answer["rows"])


def _nothing(_row: dict) -> bool:
    return False
