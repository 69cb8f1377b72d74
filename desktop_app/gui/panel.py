"""What every dashboard panel shares: a titled box with a count, and a configured table."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.gui.models import Role


def table(
    model: Any, name: str, widths: tuple[int, ...] = (), sorted_here: bool = True
) -> QTableView:
    """A table view on ``model``; ``sorted_here``: through a sorting, filtering proxy (small
    tables), else straight on the model (which pages and filters in the store)."""
    view = QTableView()
    view.setObjectName(name)
    if sorted_here:
        proxy = QSortFilterProxyModel(model)
        proxy.setSourceModel(model)
        proxy.setSortRole(Role.SORT)
        proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        proxy.setFilterKeyColumn(-1)
        view.setModel(proxy)
        view.setSortingEnabled(True)
    else:
        view.setModel(model)
        # every row the same height: the view never measures rows it does not draw
        view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(22)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the model's order until asked
    for column, width in enumerate(widths):
        view.setColumnWidth(column, width)
    return view


class Panel(QWidget):
    """A titled box around a view, with a count in the title."""

    def __init__(self, title: str, body: QWidget, tools: QWidget | None = None) -> None:
        super().__init__()
        self.title = title
        self.label = QLabel(f"<b>{title}</b>")
        # a long count ("30,000 in the queue, ...") is cut at the panel's edge instead of
        # widening the panel, and with it the window
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.label)
        if tools is not None:  # on a line of their own: the panel stays narrow
            layout.addWidget(tools)
        layout.addWidget(body, 1)  # the view gets the room, not the title or the tools

    def set_count(self, text: str) -> None:
        self.label.setText(f"<b>{self.title}</b> {text}")
