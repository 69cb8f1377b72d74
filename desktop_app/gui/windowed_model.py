"""A table model over a store too big to hold: it keeps only the blocks being looked at.

The model knows how many rows there are; it asks (by signal) for the block of rows a
view is about to draw and shows a placeholder until the block arrives from the monitor
thread.  Blocks are addressed by their offset below an *anchor*; rows that arrive live
above the anchor are kept in a *head* on top, and folded into blocks a whole block at a
time, so scrolling never makes the rows under the cursor jump.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from desktop_app.gui.models import Column, ColumnsTable, Role, state_brush

Index = QModelIndex | QPersistentModelIndex

_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_FOREGROUND = Qt.ItemDataRole.ForegroundRole.value
_ROW = Role.ROW.value
_ROLES = frozenset((_DISPLAY, _TOOLTIP, _FOREGROUND, _ROW, Role.SORT.value))


BLOCK = 200  # rows per block read from the store
MAX_BLOCKS = 100  # blocks kept in memory (20,000 rows); the least recently loaded go
MAX_ANCHORS = 64  # anchors whose late answers are still placed (one per fold)
LOADING = "…"


class WindowedModel(ColumnsTable):
    """Rows fetched a block at a time; live rows on top; placeholders while loading."""

    columns: Sequence[Column] = ()
    key = "id"
    max_blocks = MAX_BLOCKS
    state_field = "state"

    # {"generation", "anchor", "blocks": [int], "total": int | None}: read these blocks
    fetch_requested = Signal(object)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.generation = 0
        self.shown_generation = 0  # the generation whose rows are in the model
        self.total = 0  # rows below the anchor (known or counted so far)
        self.counted = True  # whether ``total`` is the real count, not a lower bound
        self.matches: Callable[[dict], bool] = lambda _row: True
        self.anchor = 0
        self._head: list[dict] = []  # live rows above the anchor, oldest first
        # Blocks are stored under a key that never changes: block shown = key + _base.
        # Folding head rows in adds to _base, so nothing already stored is touched.
        self._base = 0
        self._blocks: OrderedDict[int, list[dict]] = OrderedDict()
        self._where: dict[Any, tuple[int | None, int]] = {}  # key -> (stored block or
        # None for the head, index)
        self._folded: dict[int, int] = {}  # anchor asked at -> blocks folded in since
        self._wanted: set[int] = set()  # stored keys
        self._asked: set[int] = set()  # stored keys
        self._ask_timer = QTimer(self)
        self._ask_timer.setSingleShot(True)
        self._ask_timer.setInterval(0)
        self._ask_timer.timeout.connect(self._ask)

    # -- Qt's interface ----------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._head) + self.total

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called for every cell, for every role, on every paint: the roles not shown are
        # turned away first, and the rest take the shortest path (a paint of a full
        # table went from 40 ms to a few).
        if role not in _ROLES:
            return None
        number = index.row()
        head = len(self._head)
        if number < head:
            row = self._head[head - 1 - number]
        else:
            block, at = divmod(number - head, BLOCK)
            rows = self._blocks.get(block - self._base)
            row = rows[at] if rows is not None and at < len(rows) else None
        if row is None:
            if role == _DISPLAY and 0 <= number < head + self.total:
                if number < head or rows is None:
                    self._want(number)
                    return LOADING if index.column() == 0 else ""
                return ""  # the store had fewer rows than counted: gone since (not asked again)
            return None
        if role == _DISPLAY:
            value = self.columns[index.column()].show(row)
            return "" if value is None else str(value)
        if role == _TOOLTIP:
            value = self.columns[index.column()].show(row)
            return None if value in (None, "") else str(value)
        if role == _FOREGROUND:
            if index.column() != 0:
                return None
            return state_brush(row.get(self.state_field))
        if role == _ROW:
            return row
        value = self.columns[index.column()].sort(row)  # Role.SORT
        return "" if value is None else value

    # -- rows --------------------------------------------------------------------------
    def row(self, number: int) -> dict | None:
        """Row ``number`` if it is in memory, else None (and nothing is asked for)."""
        head = len(self._head)
        if number < head:
            return self._head[head - 1 - number]
        block, at = divmod(number - head, BLOCK)
        rows = self._blocks.get(block - self._base)
        if rows is None or at >= len(rows):
            return None
        return rows[at]

    def loaded_rows(self) -> Iterator[dict]:
        """Every row in memory (the head, then the loaded blocks)."""
        yield from reversed(self._head)
        for rows in self._blocks.values():
            yield from rows

    def row_number(self, key: Any) -> int | None:
        """Where the row with this key is, if it is in memory."""
        place = self._where.get(key)
        if place is None:
            return None
        block, at = place
        if block is None:
            return len(self._head) - 1 - at
        return len(self._head) + (block + self._base) * BLOCK + at

    # -- from the store ----------------------------------------------------------------
    def begin(self) -> int:
        """Start a new query: forget every row; returns its generation."""
        self.generation += 1
        self._ask_timer.stop()
        self._wanted.clear()
        self._asked.clear()
        return self.generation

    def opened(
        self,
        generation: int,
        anchor: int,
        total: int | None,
        first: list[dict],
        matches: Callable[[dict], bool] | None = None,
    ) -> None:
        """A query's window is open: its anchor, its size (None: still counting) and
        its first rows."""
        if generation != self.generation:
            return
        self.beginResetModel()
        self.shown_generation = generation
        self.anchor = anchor
        self.counted = total is not None
        self.total = total if total is not None else len(first)
        self.matches = matches or (lambda _row: True)
        self._head = []
        self._base = 0
        self._blocks.clear()
        self._where.clear()
        self._asked.clear()
        self._wanted.clear()
        self._folded = {anchor: 0}
        self._store(0, first[:BLOCK])
        self.endResetModel()

    def counted_total(self, generation: int, total: int, anchor: int | None = None) -> None:
        """The count of a query that needed a scan has arrived (counted up to ``anchor``:
        rows folded in since are added to it)."""
        if generation != self.generation or self.counted:
            return
        self.counted = True
        if anchor is not None:
            total += self._folded.get(anchor, 0) * BLOCK
        self._resize(total)

    def _resize(self, total: int) -> None:
        head = len(self._head)
        if total > self.total:
            self.beginInsertRows(QModelIndex(), head + self.total, head + total - 1)
            self.total = total
            self.endInsertRows()
        elif total < self.total:
            self.beginRemoveRows(QModelIndex(), head + total, head + self.total - 1)
            self.total = total
            for block in [b for b in self._blocks if (b + self._base) * BLOCK >= total]:
                self._drop(block)
            self.endRemoveRows()

    def put_block(self, generation: int, anchor: int, block: int, rows: list[dict]) -> None:
        """A block asked for (counted from ``anchor``) has arrived."""
        if generation != self.generation or anchor not in self._folded:
            return
        shown = block + self._folded[anchor]
        block = shown - self._base
        self._asked.discard(block)
        old = self._blocks.get(block)
        if old is not None:
            self._drop(block)
        self._store(block, rows)
        first = len(self._head) + shown * BLOCK
        if rows:
            last = min(first + len(rows), len(self._head) + self.total) - 1
            if last >= first:
                self.dataChanged.emit(
                    self.index(first, 0), self.index(last, len(self.columns) - 1)
                )
        while len(self._blocks) > self.max_blocks:
            self._drop(next(iter(self._blocks)))

    def _store(self, block: int, rows: list[dict]) -> None:
        self._blocks[block] = rows
        for at, row in enumerate(rows):
            self._where[row.get(self.key)] = (block, at)

    def _drop(self, block: int) -> None:
        for row in self._blocks.pop(block, []):
            key = row.get(self.key)
            if self._where.get(key, (None,))[0] == block:
                del self._where[key]

    def _want(self, number: int) -> None:
        block = (number - len(self._head)) // BLOCK - self._base
        if block + self._base >= 0 and block not in self._asked:
            self._wanted.add(block)
            self._ask_timer.start()

    def _ask(self) -> None:
        if self.shown_generation != self.generation:
            return  # a new query is being opened: its size and rows are not known yet
        stored = self._wanted - self._asked
        self._wanted.clear()
        blocks = sorted(b + self._base for b in stored)
        if blocks:
            self._asked.update(stored)
            self.fetch_requested.emit(
                {
                    "generation": self.generation,
                    "anchor": self.anchor,
                    "blocks": blocks,
                    "total": self.total if self.counted else None,
                }
            )

    # -- live --------------------------------------------------------------------------
    def apply(self, rows: list[dict], seq: str = "seq") -> None:
        """Update rows in memory; put new matching rows above the anchor on top."""
        changed: list[int] = []
        new: list[dict] = []
        for row in rows:
            key = row.get(self.key)
            place = self._where.get(key)
            if place is not None:
                block, at = place
                if block is None:
                    self._head[at] = row
                else:
                    self._blocks[block][at] = row
                number = self.row_number(key)
                if number is not None:
                    changed.append(number)
            elif (row.get(seq) or 0) > self.anchor and self.matches(row):
                new.append(row)
        if changed:
            self.dataChanged.emit(
                self.index(min(changed), 0), self.index(max(changed), len(self.columns) - 1)
            )
        if new:
            new.sort(key=lambda r: r.get(seq) or 0)
            self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
            for row in new:
                self._where[row.get(self.key)] = (None, len(self._head))
                self._head.append(row)
            self.endInsertRows()
            if len(self._head) >= BLOCK:
                self._fold(seq)

    def _fold(self, seq: str) -> None:
        """Move whole blocks of the oldest head rows below the anchor (no row moves on
        screen, and only the head's bookkeeping changes: the cost is one block's rows,
        not every row in memory; rebuilding it all stalled the window 80 ms)."""
        whole = len(self._head) // BLOCK * BLOCK
        if not whole:
            return
        folded, self._head = self._head[:whole], self._head[whole:]
        shift = whole // BLOCK
        self._base += shift
        newest_first = folded[::-1]
        for shown in range(shift):
            self._store(shown - self._base, newest_first[shown * BLOCK : (shown + 1) * BLOCK])
        for at, row in enumerate(self._head):
            self._where[row.get(self.key)] = (None, at)
        self.total += whole
        self.anchor = max(self.anchor, *(r.get(seq) or 0 for r in folded))
        self._folded = {a: n + shift for a, n in self._folded.items()}
        self._folded[self.anchor] = 0
        if len(self._folded) > MAX_ANCHORS:  # answers that old are not waited for
            for old in sorted(self._folded)[:-MAX_ANCHORS]:
                del self._folded[old]
        while len(self._blocks) > self.max_blocks:
            self._drop(next(iter(self._blocks)))
