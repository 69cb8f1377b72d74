"""Table models: thin adapters from the monitor's rows to Qt's model/view."""

from __future__ import annotations

import datetime as dt
import enum
import time
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleDataSpan,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QPalette

Index = QModelIndex | QPersistentModelIndex

# State colours for a light and for a dark palette (the dark ones lighter, so both read
# well against the window's own background).
STATE_COLOURS = {
    "complete": ("#2f855a", "#68d391"),
    "error": ("#c53030", "#fc8181"),
    "interrupted": ("#c05621", "#f6ad55"),
    "executing": ("#2b6cb0", "#63b3ed"),
    "busy": ("#2b6cb0", "#63b3ed"),
    "retrying": ("#b7791f", "#f6e05e"),
    "revoked": ("#718096", "#a0aec0"),
    "dead": ("#c53030", "#fc8181"),
    "crashed": ("#c53030", "#fc8181"),
    "firing": ("#c53030", "#fc8181"),  # an alert that holds now
    "cleared": ("#718096", "#a0aec0"),
}
_brushes: dict[str, QBrush] = {}


def state_brush(state: Any) -> QBrush | None:
    """The text colour of a state, for the palette in use (light or dark)."""
    colours = STATE_COLOURS.get(str(state))
    if colours is None:
        return None
    dark = QGuiApplication.palette().color(QPalette.ColorRole.Base).lightness() < 128
    colour = colours[1] if dark else colours[0]
    brush = _brushes.get(colour)
    if brush is None:
        brush = _brushes[colour] = QBrush(QColor(colour))
    return brush


class Role(enum.IntEnum):
    """Custom data roles."""

    ROW = Qt.ItemDataRole.UserRole + 1  # the whole row dict
    SORT = Qt.ItemDataRole.UserRole + 2  # a value that sorts right (numbers, times)


def clock(ts: float | None) -> str:
    if not ts:
        return ""
    when = dt.datetime.fromtimestamp(ts)
    if when.date() == dt.date.today():
        return when.strftime("%H:%M:%S")
    return when.strftime("%Y-%m-%d %H:%M")


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


class Column:
    """One column: a title, how to show a row, and how to sort it."""

    def __init__(
        self, title: str, show: Callable[[dict], Any], sort: Callable[[dict], Any] | None = None
    ) -> None:
        self.title = title
        self.show = show
        self.sort = sort or show


class ColumnsTable(QAbstractTableModel):
    """A table model whose columns are a sequence of ``Column``: their count and titles.

    A view painting a cell calls into the model from C++ several times: ``index()``
    (which asks ``rowCount()`` and ``columnCount()``) and ``data()`` once for each of
    seven roles.  Each call into Python takes the interpreter lock, and while another
    thread wants the lock (the monitor, the search indexer) each taking can wait for that
    thread's turn (``benchmarks.table_paint`` measures a paint alone and beside one).
    ``index()`` and ``multiData()`` answer a cell's questions in one call each.
    """

    columns: Sequence[Column] = ()

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if parent.isValid() or not 0 <= column < len(self.columns):
            return QModelIndex()
        if not 0 <= row < self.rowCount():
            return QModelIndex()
        return self.createIndex(row, column)

    def multiData(self, index: Index, roleDataSpan: QModelRoleDataSpan) -> None:
        data = self.data
        for number in range(roleDataSpan.size()):
            item = roleDataSpan[number]
            item.setData(data(index, item.role()))

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.columns):
            return self.columns[section].title
        return None


class RowModel(ColumnsTable):
    """A table of dict rows, keyed by one field; rows are replaced or upserted."""

    columns: Sequence[Column] = ()
    key = "id"
    state_field = "state"

    def __init__(self, parent: Any = None, limit: int = 10_000) -> None:
        super().__init__(parent)
        self._rows: list[dict] = []
        self._where: dict[Any, int] = {}
        self.limit = limit

    # -- Qt's interface ----------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = column.show(row)
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            value = column.show(row)
            return None if value in (None, "") else str(value)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 0:
            return state_brush(row.get(self.state_field))
        if role == Role.ROW:
            return row
        if role == Role.SORT:
            value = column.sort(row)
            return "" if value is None else value
        return None

    # -- updates from the monitor ------------------------------------------------------
    def row(self, number: int) -> dict:
        return self._rows[number]

    def replace(self, rows: list[dict]) -> None:
        """Show exactly ``rows`` (small tables: queue page, workers)."""
        if [r.get(self.key) for r in rows] == [r.get(self.key) for r in self._rows]:
            self._rows = list(rows)
            if rows:
                self.dataChanged.emit(
                    self.index(0, 0), self.index(len(rows) - 1, len(self.columns) - 1)
                )
            return
        self.beginResetModel()
        self._rows = list(rows)
        self._where = {r.get(self.key): i for i, r in enumerate(self._rows)}
        self.endResetModel()

    def upsert(self, rows: list[dict]) -> None:
        """Update rows already shown; insert new ones at the top (newest first)."""
        new = []
        changed = []
        for row in rows:
            at = self._where.get(row.get(self.key))
            if at is None:
                new.append(row)
            else:
                self._rows[at] = row
                changed.append(at)
        if changed:
            self.dataChanged.emit(
                self.index(min(changed), 0), self.index(max(changed), len(self.columns) - 1)
            )
        if new:
            new.reverse()
            self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
            self._rows[0:0] = new
            self._where = {r.get(self.key): i for i, r in enumerate(self._rows)}
            self.endInsertRows()
        overflow = len(self._rows) - self.limit
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), self.limit, len(self._rows) - 1)
            del self._rows[self.limit :]
            self._where = {r.get(self.key): i for i, r in enumerate(self._rows)}
            self.endRemoveRows()


class WorkersModel(RowModel):
    """Each worker of each consumer reporting heartbeats: state, task, elapsed, progress."""

    key = "key"
    columns = (
        Column("State", lambda r: r.get("state")),
        # the host next to the name: consumers on several machines reuse worker names
        Column("Host", lambda r: r.get("host")),
        Column("Worker", lambda r: r.get("name")),
        Column("PID", lambda r: r.get("pid"), lambda r: r.get("pid") or 0),
        Column("Task", lambda r: short(r.get("task"))),
        Column(
            "Elapsed",
            lambda r: (
                seconds(time.time() - r["started_at"])
                if r.get("state") == "busy" and r.get("started_at")
                else ""
            ),
        ),
        Column("Progress", lambda r: progress_text(r)),
    )
    PROGRESS = 6  # the column the progress bar is drawn in

    def replace(self, rows: list[dict]) -> None:
        super().replace([r | {"key": (r.get("consumer"), r.get("name"))} for r in rows])


def short(name: str | None) -> str:
    """``tasks.demo.send_email`` -> ``send_email``."""
    return (name or "").rsplit(".", 1)[-1]


def progress_text(row: dict) -> str:
    value = row.get("progress")
    if row.get("state") != "busy" or value is None:
        return ""
    note = row.get("progress_message") or ""
    return f"{value:.0%} {note}".strip()
