"""Live charts: tasks finished and failed per 10 s, and queue depth, over the last minutes.

Drawn with pyqtgraph (a well-kept plotting library for Qt); redrawn once a second from a
timer, never once per event.
"""

from __future__ import annotations

import time
from collections import deque

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from desktop_app.core.states import COMPLETE, FAILED_STATES, label

BUCKET_S = 10
WINDOW_S = 10 * 60


class ChartsPanel(QWidget):
    """Throughput (complete / failed per bucket) and queue depth (pending + scheduled)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.done: dict[int, int] = {}
        self.failed: dict[int, int] = {}
        self.depth: deque[tuple[float, int]] = deque(maxlen=WINDOW_S * 2)
        self._dirty = False
        pg.setConfigOptions(antialias=True, background=None)
        self.throughput = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.throughput.setObjectName("throughput-chart")
        self.throughput.setTitle(f"Finished per {BUCKET_S} s")
        self.throughput.addLegend(offset=(5, 5))
        self.throughput.showGrid(y=True, alpha=0.3)
        self.done_curve = self.throughput.plot(
            name=label(COMPLETE), pen=pg.mkPen("#2f855a", width=2), stepMode="center"
        )
        self.failed_curve = self.throughput.plot(
            name="failed", pen=pg.mkPen("#c53030", width=2), stepMode="center"
        )
        self.queue = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.queue.setObjectName("depth-chart")
        self.queue.setTitle("Queue depth")
        self.queue.showGrid(y=True, alpha=0.3)
        self.depth_curve = self.queue.plot(pen=pg.mkPen("#2b6cb0", width=2))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.throughput)
        layout.addWidget(self.queue)
        self.timer = QTimer(self)
        self.timer.setObjectName("charts-redraw")
        self.timer.timeout.connect(self.redraw)
        self.timer.start(1000)

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
        if self.depth:
            times, depths = zip(*self.depth)
            self.depth_curve.setData(list(times), list(depths))
