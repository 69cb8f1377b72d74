"""The queue panel: pending and scheduled tasks, a text filter, and what can be done to them."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from desktop_app.gui.models import Role
from desktop_app.gui.panel import Panel, table
from desktop_app.gui.queue_table import QueueModel

FILTER_DELAY_MS = 150  # typing pause after which a filter is applied


class QueuePanel(Panel):
    """The queue table with run now, revoke, restore and flush (asked for by ``action``)."""

    action = Signal(str)  # "run_now", "revoke", "restore" (the selected tasks) or "flush"

    def __init__(self, model: QueueModel) -> None:
        self.model = model
        self.view = table(model, "queue-view", (80, 110, 140, 60, 80, 140), sorted_here=False)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # the longest state, "scheduled, revoked", whole (80 px cut it to "schedul…")
        state_width = self.view.fontMetrics().horizontalAdvance("scheduled, revoked") + 16
        self.view.setColumnWidth(0, max(state_width, 80))
        tools = QWidget()
        q = QHBoxLayout(tools)
        q.setContentsMargins(0, 0, 0, 0)
        self.revoke_button = QPushButton("Revoke")
        self.revoke_button.setToolTip("Revoke the selected tasks (Delete)")
        self.restore_button = QPushButton("Restore")
        self.run_now_button = QPushButton("Run now")
        self.run_now_button.setToolTip("Run the selected delayed or scheduled tasks now")
        self.flush_button = QPushButton("Flush…")
        self.flush_button.setToolTip("Delete every pending and scheduled task")
        self.filter = QLineEdit(placeholderText="Filter: task, arguments, id")
        self.filter.setObjectName("queue-filter")
        self.filter.setClearButtonEnabled(True)
        q.addWidget(self.filter)
        for b in (self.run_now_button, self.revoke_button, self.restore_button, self.flush_button):
            q.addWidget(b)
        super().__init__("Queue", self.view, tools)
        self.label.setToolTip(
            "A delayed task waits in the queue until a worker takes it and moves it to the "
            "schedule, where it stays until it is due"
        )
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.filter.textChanged.connect(self._filter_timer.start)
        self.run_now_button.clicked.connect(lambda: self.action.emit("run_now"))
        self.revoke_button.clicked.connect(lambda: self.action.emit("revoke"))
        self.restore_button.clicked.connect(lambda: self.action.emit("restore"))
        self.flush_button.clicked.connect(lambda: self.action.emit("flush"))

    def apply_filter(self) -> None:
        """Ask the store for the queued tasks that match the filter text."""
        self._filter_timer.stop()
        self.model.set_text(self.filter.text())

    def selected_ids(self) -> list[str]:
        """Ids of the selected tasks (rows not read yet are skipped)."""
        rows = [i.data(Role.ROW) for i in self.view.selectionModel().selectedRows()]
        return [r["id"] for r in rows if r and r.get("id")]

    def show_status(self, status: dict) -> None:
        """The counts in the title, from the monitor's status."""
        matched = ""
        if self.model.text:
            more = "+" if self.model.capped else ""
            matched = f" · {self.model.rowCount():,}{more} match"
        # Huey keeps a delayed task in the queue until a worker takes it and moves it to
        # the schedule: the rows say "scheduled" for both, the counts say where they are
        self.set_count(
            f"— {status['pending']:,} in the queue, {status['scheduled']:,} in the schedule"
            f"{matched}"
        )
