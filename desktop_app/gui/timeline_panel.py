"""The worker timeline: one lane per worker (grouped by host), one bar per run.

Drawn with pyqtgraph: one bar item per state (a single colour draws in one call), a
cross on interrupted runs, a dashed line from a run to the run that retried it.  The
runs are read by time range on the thread pool (``core.timeline``): the view asks for
what it shows plus a margin of one width on each side, and asks again only when panning
leaves that, or, while it follows the clock, every second (running bars grow live).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.states import EXECUTING, label
from desktop_app.core.timeline import LIMIT, Run, RunPage, retry_links
from desktop_app.gui.jobs import run_job
from desktop_app.gui.models import clock, state_brush

# name, width in seconds, key
PRESETS = (
    ("1 min", 60.0, "1"),
    ("10 min", 600.0, "2"),
    ("1 h", 3600.0, "3"),
    ("1 day", 86400.0, "4"),
)
MIN_WIDTH_S, MAX_WIDTH_S = 10.0, 86400.0 * 1.5
FOLLOW_MS = 1000
HOVER_PX = 4  # how near a bar the pointer must be to hover it
FALLBACK_COLOUR = "#4a5568"

Reader = Callable[[float, float, int], RunPage]
Lane = tuple[str, str, str]
BAR_HEIGHT = 0.7
FAILED_MIN_PX = 3
DRAW_ORDER = {"complete": 0, "error": 2, "interrupted": 2, "timeout": 2}


@dataclass
class Layout:
    """A read laid out for drawing, made on the thread pool: the GUI thread only hands
    the arrays to pyqtgraph."""

    page: RunPage
    lanes: dict[Lane, int]
    bars: dict[str, tuple[Any, Any, Any, int]]  # per final state: starts, ends, lane bottoms, runs
    running: list[Run]
    running_y: Any
    by_lane: dict[int, tuple[list[float], list[Run]]]  # per lane, by start: for hovering
    cut: tuple[Any, Any]  # where interrupted runs ended (x, lane)
    links: tuple[Any, Any]  # retry links as pairs of points


def _merged(runs: list[Run], lanes: dict[Lane, int], pixel_s: float) -> tuple[Any, Any, Any]:
    """Bars of one state as rectangles, those of a lane less than a pixel apart merged
    into one: a day of runs is drawn as a few thousand rectangles, not a million."""
    by_lane: dict[int, list[tuple[float, float]]] = {}
    for run in runs:
        by_lane.setdefault(lanes[run.lane], []).append((run.start, run.end))
    x0: list[float] = []
    x1: list[float] = []
    y0: list[float] = []
    for y, spans in by_lane.items():
        spans.sort()
        start, end = spans[0]
        for a, b in spans[1:]:
            if a - end <= pixel_s:
                end = max(end, b)
                continue
            x0.append(start)
            x1.append(end)
            start, end = a, b
        x0.append(start)
        x1.append(end)
        y0 += [y - BAR_HEIGHT / 2] * (len(x0) - len(y0))
    return np.array(x0), np.array(x1), np.array(y0)


def prepare(page: RunPage, known: list[Lane], pixel_s: float = 0.0) -> Layout:
    """Lay out a read (``pixel_s``: seconds per pixel, below which bars merge); lanes
    only grow (a worker keeps its place), sorted by host."""
    lanes = {lane: i for i, lane in enumerate(sorted(set(known) | set(page.lanes)))}
    grouped: dict[str, list[Run]] = {}
    by_lane: dict[int, list[Run]] = {}
    running = []
    for run in page.runs:
        by_lane.setdefault(lanes[run.lane], []).append(run)
        if run.end is None:
            running.append(run)
        else:
            grouped.setdefault(run.state, []).append(run)
    bars = {}
    # done first, failures last: drawn on top, they stay visible at a wide zoom
    for state in sorted(grouped, key=lambda st: DRAW_ORDER.get(st, 1)):
        x0, x1, y0 = _merged(grouped[state], lanes, pixel_s)
        if DRAW_ORDER.get(state) == 2:  # a failure lasting a millisecond is still seen
            x1 = np.maximum(x1, x0 + FAILED_MIN_PX * pixel_s)
        bars[state] = (x0, x1, y0, len(grouped[state]))
    index = {}
    for y, runs in by_lane.items():
        runs.reverse()  # a read is newest first
        runs.sort(key=lambda r: r.start)
        index[y] = ([r.start for r in runs], runs)
    cut = [r for r in page.runs if r.interrupted and r.end is not None]
    link_x, link_y = [], []
    for earlier, later in retry_links(page.runs):
        link_x += [earlier.end or earlier.start, later.start]
        link_y += [lanes[earlier.lane], lanes[later.lane]]
    return Layout(
        page,
        lanes,
        bars,
        running,
        np.array([lanes[r.lane] - BAR_HEIGHT / 2 for r in running]),
        index,
        (np.array([r.end for r in cut]), np.array([lanes[r.lane] for r in cut])),
        (np.array(link_x), np.array(link_y)),
    )


def hover_text(run: Run, now: float | None = None) -> str:
    """What hovering a bar says: the task, its arguments, how it ended, where it ran."""
    now = time.time() if now is None else now
    lines = [run.task_name or "?", f"id {run.task_id}"]
    if run.args_preview:
        lines.append(f"args {run.args_preview[:80]}")
    state = "running" if run.end is None else label(run.state)
    lines.append(f"{state}, {run.duration(now):.2f} s, started {clock(run.start)}")
    lines.append(f"{run.worker or '?'} on {run.host or '?'}")
    if run.attempts > 1:
        lines.append(f"attempt {run.attempt} of {run.attempts}")
    if run.retry_of:
        lines.append(f"retry of {run.retry_of}")
    return "\n".join(lines)


def lane_label(lane: tuple[str, str, str]) -> str:
    """``host · pid · worker`` (a consumer's id is host:pid:started; others as they are)."""
    host, consumer, worker = lane
    parts = consumer.split(":")
    pid = parts[1] if len(parts) >= 3 else consumer
    return f"{host} · {pid} · {worker}" if pid != host else f"{host} · {worker}"


class TimelinePanel(QWidget):
    """The *Timeline* tab: zoom and pan from a minute to a day; hover, click for details."""

    task_requested = Signal(str)  # a bar was clicked: show this task's details
    page_applied = Signal(object)  # a read was drawn (the RunPage), for tests and scripts

    def __init__(self, reader: Reader | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reader = reader
        self.page = RunPage(0.0, 0.0)
        self.loaded: tuple[float, float] | None = None  # the range the drawn runs cover
        self.follow = True  # the view's right edge stays at now
        self.width_s = PRESETS[1][1]
        self._busy = False
        self._again = False
        self._fetched_at = 0.0
        self._stale = False  # the range moved while the tab was hidden: read when shown
        self._lanes: dict[tuple[str, str, str], int] = {}
        self._by_lane: dict[int, tuple[list[float], list[Run]]] = {}
        self._items: list[Any] = []
        self._running_item: pg.BarGraphItem | None = None
        self._running: list[Run] = []
        self._running_y: Any = None
        self._laid_out_width = 0.0
        self.hovered: Run | None = None

        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.plot.setObjectName("timeline-plot")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, alpha=0.2)
        self.plot.setMinimumSize(200, 100)
        view = self.plot.getViewBox()
        view.setMouseEnabled(x=True, y=False)
        view.invertY(True)  # the first lane at the top, as a list reads
        view.setLimits(minXRange=MIN_WIDTH_S, maxXRange=MAX_WIDTH_S)
        view.sigXRangeChanged.connect(lambda *_: self._range_changed())
        view.sigRangeChangedManually.connect(lambda *_: self._manual())
        self.plot.scene().sigMouseMoved.connect(self._moved)
        self.plot.scene().sigMouseClicked.connect(self._clicked)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        self.preset_buttons: dict[float, QPushButton] = {}
        for name, width, key in PRESETS:
            button = QPushButton(name)
            button.setObjectName(f"timeline-{name.replace(' ', '')}")
            button.setToolTip(f"The last {name} ({key})")
            button.setCheckable(True)
            button.clicked.connect(lambda _c=False, w=width: self.show_last(w))
            bar.addWidget(button)
            self.preset_buttons[width] = button
            self._shortcut(key, lambda w=width: self.show_last(w))
        self.now_button = QPushButton("Now")
        self.now_button.setObjectName("timeline-now")
        self.now_button.setToolTip("Follow the clock again (End)")
        self.now_button.clicked.connect(lambda: self.show_last(self.width_s))
        bar.addWidget(self.now_button)
        self.summary = QLabel()
        self.summary.setObjectName("timeline-summary")
        # cut at the tab's edge (whole in its tooltip) rather than widening the window
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.summary, 1)
        self._shortcut("End", lambda: self.show_last(self.width_s))
        self._shortcut("+", lambda: self.zoom(0.5))
        self._shortcut("=", lambda: self.zoom(0.5))
        self._shortcut("-", lambda: self.zoom(2.0))
        self._shortcut("Left", lambda: self.pan(-0.25))
        self._shortcut("Right", lambda: self.pan(0.25))
        self.hover_label = QLabel()
        self.hover_label.setObjectName("timeline-hover")
        self.hover_label.setWordWrap(True)
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hover_label)

        self.timer = QTimer(self)
        self.timer.setObjectName("timeline-follow")
        self.timer.timeout.connect(self._tick)
        self.timer.start(FOLLOW_MS)
        self.show_last(self.width_s)

    def _shortcut(self, key: str, slot: Callable[[], None]) -> None:
        shortcut = QShortcut(QKeySequence(key), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(slot)

    # -- the range shown ---------------------------------------------------------------
    def set_reader(self, reader: Reader) -> None:
        self.reader = reader
        self.loaded, self.page = None, RunPage(0.0, 0.0)
        self.fetch()

    def visible(self) -> tuple[float, float]:
        (a, b), _y = self.plot.getViewBox().viewRange()
        return a, b

    def show_last(self, width: float) -> None:
        """Show the last ``width`` seconds and follow the clock."""
        self.follow = True
        self.width_s = width
        for w, button in self.preset_buttons.items():
            button.setChecked(w == width)
        now = time.time()
        self.plot.setXRange(now - width, now + width * 0.02, padding=0)

    def zoom(self, factor: float) -> None:
        a, b = self.visible()
        width = min(MAX_WIDTH_S, max(MIN_WIDTH_S, (b - a) * factor))
        right = b if self.follow else (a + b) / 2 + width / 2
        self.plot.setXRange(right - width, right, padding=0)

    def pan(self, fraction: float) -> None:
        a, b = self.visible()
        shift = (b - a) * fraction
        self.follow = False
        self._uncheck()
        self.plot.setXRange(a + shift, b + shift, padding=0)

    def _uncheck(self) -> None:
        for button in self.preset_buttons.values():
            button.setChecked(False)

    def _manual(self) -> None:
        """A drag or a wheel turn: the view no longer follows the clock."""
        self.follow = False
        self._uncheck()

    def _range_changed(self) -> None:
        if not self.isVisible():
            # A hidden tab does not read: a busy stream's reads of 10,000 runs a second
            # took a fifth of the window's interpreter from the monitor's thread.
            self._stale = True
            return
        a, b = self.visible()
        # a read cut by its limit covers less than it asked for; asking again for a range
        # within the same one would be cut the same way (the follow timer refreshes it)
        held = (self.page.t0, self.page.t1) if self.page.truncated else self.loaded
        if held is None or a < held[0] or b > held[1]:
            self.fetch()
        elif b - a < self._laid_out_width / 2:  # zoomed in: bars merged too coarsely
            self.fetch(force=True)

    def _tick(self) -> None:
        if self.follow:
            a, b = self.visible()
            now = time.time()
            width = b - a
            self.plot.setXRange(now - width * 0.98, now + width * 0.02, padding=0)
            if self.isVisible() and time.monotonic() - self._fetched_at >= FOLLOW_MS / 1000:
                self.fetch(force=True)
        self._draw_running()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale or self.loaded is None:
            self.fetch(force=True)

    # -- reading, off the GUI thread ---------------------------------------------------
    def fetch(self, force: bool = False) -> None:
        """Read the visible range plus a width on each side (one read at a time)."""
        if self.reader is None:
            return
        if self._busy:
            self._again = True
            return
        a, b = self.visible()
        width = b - a
        # following the clock: up to now, whatever the view's right edge
        t0, t1 = a - width, (max(b + width, time.time() + 1) if self.follow else b + width)
        if not force and self.loaded and self.loaded[0] <= a and b <= self.loaded[1]:
            return
        self._busy, self._again, self._stale = True, False, False
        self._fetched_at = time.monotonic()
        reader, known = self.reader, list(self._lanes)
        pixel_s = self.plot.getViewBox().viewPixelSize()[0]
        self._laid_out_width = width
        # Past the view's left edge, older runs must not take the limit from what is
        # shown; when following, what is right of it is the future: nothing to take, and
        # read, so that the view can follow the clock without reading again at each step.
        shown = (a, t1 if self.follow else b)
        cut_before = self.page.truncated  # a busy range: it will be cut again

        def read() -> Layout:
            page = None if cut_before else reader(t0, t1, LIMIT)
            if page is None or page.truncated:
                page = reader(*shown, LIMIT)
            return prepare(page, known, pixel_s)

        run_job(read, self._apply, self._failed)

    def _say(self, text: str) -> None:
        self.summary.setText(text)
        self.summary.setToolTip(text)

    def _failed(self, message: str) -> None:
        self._busy = False
        self._say(message)

    def _apply(self, layout: Layout) -> None:
        self._busy = False
        page = self.page = layout.page
        # a read cut by its limit holds its range from its oldest run on only
        oldest = page.runs[-1].start if page.truncated and page.runs else page.t0
        self.loaded = (max(page.t0, oldest), page.t1)
        self._show(layout)
        self.page_applied.emit(page)
        if self._again:
            self.fetch()

    # -- drawing -----------------------------------------------------------------------
    def _layout_lanes(self, lanes: dict[Lane, int]) -> None:
        self._lanes = lanes
        ticks = [(y, lane_label(lane)) for lane, y in lanes.items()]
        axis = self.plot.getAxis("left")
        axis.setTicks([ticks])
        metrics = QFontMetrics(axis.style.get("tickFont") or self.font())
        axis.setWidth(max([metrics.horizontalAdvance(t) for _y, t in ticks], default=40) + 16)
        self.plot.setYRange(-0.6, max(0, len(lanes) - 1) + 0.6, padding=0)

    def lanes(self) -> list[Lane]:
        return list(self._lanes)

    def draw(self, page: RunPage) -> None:
        """Draw a read (laid out here; reads from the thread pool come laid out)."""
        self._show(prepare(page, list(self._lanes)))

    def _show(self, layout: Layout) -> None:
        for item in self._items:
            self.plot.removeItem(item)
        self._items = []
        self._running_item = None
        self._layout_lanes(layout.lanes)
        self._by_lane = layout.by_lane
        self._running, self._running_y = layout.running, layout.running_y
        for state, (x0, x1, y0, runs) in layout.bars.items():
            self._add_bars(state, x0, x1, y0).count = runs
        self._draw_running()
        self._draw_marks(layout)
        self._say(self._summary(layout.page))
        if self.hovered is not None:  # a redraw: what the label says may have changed
            self._rehover(layout.page)

    def _colour(self, state: str) -> str:
        brush = state_brush(state)
        return brush.color().name() if brush is not None else FALLBACK_COLOUR

    def _add_bars(self, state: str, x0: Any, x1: Any, y0: Any) -> pg.BarGraphItem:
        colour = self._colour(state)
        item = pg.BarGraphItem(
            x0=x0,
            x1=x1,
            y0=y0,
            height=BAR_HEIGHT,
            brush=colour,
            pen=pg.mkPen(colour, width=1),  # a run shorter than a pixel still shows
        )
        item.state = state
        item.count = len(x0)
        self.plot.addItem(item)
        self._items.append(item)
        return item

    def _draw_running(self) -> None:
        """Running bars end at now: redrawn every second, so they grow."""
        if self._running_item is not None:
            self.plot.removeItem(self._running_item)
            self._items.remove(self._running_item)
            self._running_item = None
        if self._running:
            x0 = np.array([r.start for r in self._running])
            self._running_item = self._add_bars(
                EXECUTING, x0, np.full(len(x0), time.time()), self._running_y
            )

    def _draw_marks(self, layout: Layout) -> None:
        if len(layout.cut[0]):
            marks = pg.ScatterPlotItem(
                x=layout.cut[0],
                y=layout.cut[1],
                symbol="x",
                size=11,
                pen=pg.mkPen(self._colour("error"), width=2),
                brush=None,
            )
            marks.kind = "interrupted"
            self.plot.addItem(marks)
            self._items.append(marks)
        if len(layout.links[0]):
            curve = pg.PlotCurveItem(
                x=layout.links[0],
                y=layout.links[1],
                connect="pairs",
                pen=pg.mkPen(self._colour("retrying"), width=1.5, style=Qt.PenStyle.DashLine),
            )
            curve.kind = "retries"
            curve.count = len(layout.links[0]) // 2
            self.plot.addItem(curve)
            self._items.append(curve)

    @staticmethod
    def _summary(page: RunPage) -> str:
        text = f"{len(page.runs):,} runs"
        if page.truncated:
            text += " (the newest of this range: zoom in for the rest)"
        return text

    def bar_items(self) -> dict[str, int]:
        """Bars drawn per state (running ones as ``executing``)."""
        return {
            item.state: item.count for item in self._items if isinstance(item, pg.BarGraphItem)
        }

    # -- hover and click ---------------------------------------------------------------
    def run_at(self, x: float, y: float) -> Run | None:
        """The run drawn at view coordinates (time, lane), within a few pixels."""
        lane = round(y)
        if abs(y - lane) > 0.4 or lane not in self._by_lane:
            return None
        starts, runs = self._by_lane[lane]
        pixel = self.plot.getViewBox().viewPixelSize()[0]
        slack = pixel * HOVER_PX
        now = time.time()
        i = bisect.bisect_right(starts, x + slack)
        best: Run | None = None
        best_gap = slack
        for run in reversed(runs[max(0, i - 4) : i]):  # the latest first, on a tie
            end = run.end if run.end is not None else now
            gap = max(0.0, run.start - x, x - end)  # 0 under the pointer
            if gap < best_gap or (best is None and gap <= slack):
                best, best_gap = run, gap
        return best

    def _view_point(self, scene_pos: QPointF) -> QPointF | None:
        view = self.plot.getViewBox()
        if not view.sceneBoundingRect().contains(scene_pos):
            return None
        return view.mapSceneToView(scene_pos)

    def _rehover(self, page: RunPage) -> None:
        """Keep the hovered run across a redraw, as it is now (it may have ended)."""
        was = self.hovered
        same = (r for r in page.runs if (r.task_id, r.attempt) == (was.task_id, was.attempt))
        run = next(same, None)
        if run is not None and run != was:
            self._hover(run)

    def _moved(self, scene_pos: QPointF) -> None:
        point = self._view_point(scene_pos)
        run = self.run_at(point.x(), point.y()) if point is not None else None
        if run is not self.hovered:
            self._hover(run)

    def _hover(self, run: Run | None) -> None:
        self.hovered = run
        text = hover_text(run) if run is not None else ""
        self.hover_label.setText(text.replace("\n", "  ·  "))
        # Qt shows it where the pointer rests (and hides it when the text is empty)
        self.plot.setToolTip(text)

    def _clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        point = self._view_point(event.scenePos())
        run = self.run_at(point.x(), point.y()) if point is not None else None
        if run is not None:
            self.task_requested.emit(run.task_id)
