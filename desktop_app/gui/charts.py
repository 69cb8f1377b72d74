"""Live charts: tasks finished and failed per 10 s, and queue depth, over the last minutes.

Drawn with pyqtgraph (a well-kept plotting library for Qt); redrawn once a second from a
timer, never once per event.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QBoxLayout, QWidget

from desktop_app.core.states import COMPLETE, FAILED_STATES, label

BUCKET_S = 10
WINDOW_S = 10 * 60
DONE_COLOUR = "#2f855a"
FAILED_COLOUR = "#c53030"
DEPTH_COLOUR = "#2b6cb0"


class CountAxis(pg.AxisItem):
    """A y axis for counts: whole-number ticks only (no "0.5 tasks")."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        levels = [
            (spacing, [v for v in values if float(v).is_integer()])
            for spacing, values in super().tickValues(minVal, maxVal, size)
            if spacing >= 1
        ]
        levels = [(spacing, values) for spacing, values in levels if values]
        if not levels:  # a range under a few units: every whole number in it
            whole = range(math.ceil(minVal), math.floor(maxVal) + 1)
            levels = [(1.0, [float(v) for v in whole])]
        return levels

    def tickStrings(self, values: list, scale: float, spacing: float) -> list[str]:
        return [f"{round(v * scale):,}" for v in values]


def _swatch(colour: str, text: str) -> str:
    return f"<span style='color:{colour}'>■ {text}</span>"


class ChartsPanel(QWidget):
    """Throughput (complete / failed per bucket) and queue depth (pending + scheduled)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.done: dict[int, int] = {}
        self.failed: dict[int, int] = {}
        # one point per status (about one a second, ten while events arrive); points older
        # than the window are dropped at each redraw, the bound only guards a burst
        self.depth: deque[tuple[float, int]] = deque(maxlen=WINDOW_S * 20)
        self._dirty = False
        pg.setConfigOptions(antialias=True, background=None)
        # The legend is in the title: a legend box in the plot sat on the lines.
        self.throughput = self._plot(
            "throughput-chart",
            f"Finished per {BUCKET_S} s: {_swatch(DONE_COLOUR, label(COMPLETE))} "
            f"{_swatch(FAILED_COLOUR, 'failed')}",
        )
        self.done_curve = self.throughput.plot(
            pen=pg.mkPen(DONE_COLOUR, width=2), stepMode="center"
        )
        self.failed_curve = self.throughput.plot(
            pen=pg.mkPen(FAILED_COLOUR, width=2), stepMode="center"
        )
        self.queue = self._plot(
            "depth-chart", f"Queue depth: {_swatch(DEPTH_COLOUR, 'pending + scheduled')}"
        )
        self.depth_curve = self.queue.plot(pen=pg.mkPen(DEPTH_COLOUR, width=2))
        self.charts_layout = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        layout = self.charts_layout
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.throughput)
        layout.addWidget(self.queue)
        self.timer = QTimer(self)
        self.timer.setObjectName("charts-redraw")
        self.timer.timeout.connect(self.redraw)
        self.timer.start(1000)

    @staticmethod
    def _plot(name: str, title: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(), "left": CountAxis("left")})
        plot.setObjectName(name)
        plot.setTitle(title, size="9pt")
        plot.showGrid(y=True, alpha=0.3)
        plot.setMinimumSize(160, 80)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.getPlotItem().layout.setContentsMargins(2, 2, 6, 2)
        plot.setYRange(0, 1.1, padding=0)
        return plot

    def resizeEvent(self, event: Any) -> None:
        """Side by side when the panel is wide and low (it shares a tab with the output),
        one above the other when it is tall: neither chart is squeezed flat."""
        super().resizeEvent(event)
        size = event.size()
        wide = size.width() >= 1.6 * size.height()
        self.charts_layout.setDirection(
            QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        )

    def on_events(self, events: list[dict]) -> None:
        for e in events:
            kind = e["kind"]
            if kind == "complete":
                target = self.done
            elif kind in FAILED_STATES and not (e.get("data") or {}).get("retries"):
                target = self.failed
            else:
                continue
            bucket = int(e["ts"] // BUCKET_S)
            target[bucket] = target.get(bucket, 0) + 1
            self._dirty = True

    def on_status(self, status: dict) -> None:
        self.depth.append((time.time(), status["pending"] + status["scheduled"]))
        self._dirty = True

    def series(self) -> tuple[list[float], list[int], list[int]]:
        """Bucket start times and counts over the window (empty buckets as zero)."""
        now = int(time.time() // BUCKET_S)
        first = now - WINDOW_S // BUCKET_S
        for counts in (self.done, self.failed):
            for old in [b for b in counts if b < first]:
                del counts[old]
        buckets = range(first, now + 1)
        xs = [float(b * BUCKET_S) for b in buckets] + [float((now + 1) * BUCKET_S)]
        return xs, [self.done.get(b, 0) for b in buckets], [self.failed.get(b, 0) for b in buckets]

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        xs, done, failed = self.series()
        self.done_curve.setData(xs, done)
        self.failed_curve.setData(xs, failed)
        # counts start at zero, with room for one at least (an idle chart showed -0.5..0.5)
        self.throughput.setYRange(0, max(1, *done, *failed) * 1.1, padding=0)
        # both charts span the same minutes, so a burst lines up with the depth it drained
        for plot in (self.throughput, self.queue):
            plot.setXRange(xs[0], xs[-1], padding=0)
        while self.depth and self.depth[0][0] < xs[0]:
            self.depth.popleft()
        if self.depth:
            times, depths = zip(*self.depth)
            self.depth_curve.setData(list(times), list(depths))
            self.queue.setYRange(0, max(1, *depths) * 1.1, padding=0)
