"""The queue table: a windowed model over pending, delayed and scheduled tasks."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal

from desktop_app.gui.models import Column, clock, short
from desktop_app.gui.windowed_model import WindowedModel


class QueueModel(WindowedModel):
    """Pending and scheduled tasks, in the order the consumer will take them.

    The monitor reads the blocks in view from storage (never the whole queue) and reads
    them again when the queue changes; a text filter is applied by the monitor too.
    """

    key = "id"
    # Only the blocks the monitor reads again when the queue changes are kept: a block
    # kept beyond those would go stale (tasks taken, rows shifted).
    max_blocks = 2
    columns = (
        Column(
            "State", lambda r: f"{r.get('state')}, revoked" if r.get("revoked") else r.get("state")
        ),
        Column("Task", lambda r: short(r.get("task")) or "(not decoded)"),
        Column("Arguments", lambda r: r.get("args") if r.get("decoded") else r.get("problem")),
        Column("Priority", lambda r: r.get("priority"), lambda r: r.get("priority") or 0),
        Column(
            "Enqueued",
            lambda r: clock(r.get("enqueued_at")),
            lambda r: r.get("enqueued_at") or 0.0,
        ),
        Column("ETA", lambda r: (r.get("eta") or "").replace("T", " ")[:19]),
        Column("ID", lambda r: r.get("id")),
    )

    query_requested = Signal(object)  # {"generation", "text"}

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.capped = False  # a filtered view that stopped at its limit of matches

    def set_text(self, text: str) -> None:
        """Show only tasks whose id, task or arguments contain ``text``."""
        self.text = text
        generation = self.begin()
        self.query_requested.emit({"generation": generation, "text": text})

    def on_opened(self, answer: dict) -> None:
        self.capped = answer.get("capped", False)
        self.opened(answer["generation"], 0, answer["total"], answer["rows"])

    def on_resized(self, answer: dict) -> None:
        if answer["generation"] == self.generation:
            self.capped = answer.get("capped", False)
            self._resize(answer["total"])

    def on_block(self, answer: dict) -> None:
        self.put_block(answer["generation"], answer["anchor"], answer["block"], answer["rows"])
