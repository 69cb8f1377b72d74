"""The workers panel: the consumer's workers, its controls, its output and the charts."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.gui.charts import ChartsPanel
from desktop_app.gui.consumer_process import LOG_LINES, ConsumerProcess
from desktop_app.gui.models import Role, WorkersModel, seconds
from desktop_app.gui.panel import Panel, table

LOG_FLUSH_MS = 100  # the consumer's output reaches the log view at most this often
APPLY_WORKERS_MS = 700  # a pause in changing the worker count after which it is applied
BAR_HEIGHT = 5  # the progress bar under a busy worker's progress note
# Terminal colour and cursor codes (huey's examples print colours): stripped for the view.
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_ansi(line: str) -> str:
    """``line`` without terminal escape codes."""
    return ANSI.sub("", line) if "\x1b" in line else line


class ProgressDelegate(QStyledItemDelegate):
    """Draws a busy worker's progress note as plain text with a thin progress bar under it.

    The style's own text on the bar was grey on the bar's blue; text on the cell's own
    background reads in every palette."""

    def paint(self, painter: Any, option: Any, index: Any) -> None:
        row = index.data(Role.ROW) or {}
        value = row.get("progress")
        if row.get("state") != "busy" or value is None:
            super().paint(painter, option, index)
            return
        text = QStyleOptionViewItem(option)
        self.initStyleOption(text, index)
        text.rect = option.rect.adjusted(0, 0, 0, -BAR_HEIGHT)
        text.displayAlignment = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        style = QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, text, painter)
        bar = QStyleOptionProgressBar()
        r = option.rect
        bar.rect = QRect(r.left() + 2, r.bottom() - BAR_HEIGHT + 1, r.width() - 4, BAR_HEIGHT - 1)
        bar.minimum, bar.maximum = 0, 100
        bar.progress = round(value * 100)
        bar.textVisible = False
        bar.state = option.state
        bar.palette = option.palette
        style.drawControl(QStyle.ControlElement.CE_ProgressBarContents, bar, painter)


class LogView(QPlainTextEdit):
    """The consumer's output: follows the end unless the user scrolled up.

    Appending to a hidden view (at launch, or while the window sits in the tray) and the
    relayout when it is shown again moved the view off the end.  Only the user's own
    scrolling (wheel, scroll bar, drag) decides whether the view follows; any other move
    of a following view is undone."""

    def __init__(self) -> None:
        super().__init__(readOnly=True)
        self.following = True
        bar = self.verticalScrollBar()
        bar.actionTriggered.connect(lambda _action: self._user_moved(bar.sliderPosition()))
        bar.sliderMoved.connect(self._user_moved)
        bar.valueChanged.connect(lambda _value: self._keep_at_end())
        bar.rangeChanged.connect(lambda _lo, _hi: self._keep_at_end())

    def _user_moved(self, position: int) -> None:
        self.following = position >= self.verticalScrollBar().maximum()

    def _keep_at_end(self) -> None:
        bar = self.verticalScrollBar()
        if self.following and bar.value() != bar.maximum():
            bar.setValue(bar.maximum())

    def wheelEvent(self, event: Any) -> None:
        super().wheelEvent(event)
        self._user_moved(self.verticalScrollBar().value())

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._keep_at_end()


class WorkersPanel(Panel):
    """Workers table, Start / Stop / Restart and worker count, consumer output, charts."""

    watch_pid = Signal(int)  # the consumer this window runs, for its CPU and memory
    message = Signal(str, int)  # for the status bar: text, milliseconds

    def __init__(self, model: WorkersModel, consumer: ConsumerProcess | None) -> None:
        self.model = model
        self.consumer = consumer
        self.view = table(model, "workers-view", (60, 90, 80, 60, 120, 70, 160))
        self.view.setItemDelegateForColumn(model.PROGRESS, ProgressDelegate(self.view))
        controls = QWidget()
        lines = QVBoxLayout(controls)
        lines.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.consumer_state = QLabel("consumer: not started here")
        self.consumer_state.setObjectName("consumer-state")
        self.consumer_state.setWordWrap(True)  # a line of its own: long text never overlaps
        self.worker_count = QSpinBox(
            minimum=1, maximum=64, value=consumer.workers if consumer else 2
        )
        self.worker_count.setToolTip(
            "Workers for the consumer this window runs; a change restarts a running "
            "consumer gracefully (its running tasks finish first)"
        )
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.restart_button = QPushButton("Restart")
        for w in (
            QLabel("workers"),
            self.worker_count,
            self.start_button,
            self.stop_button,
            self.restart_button,
        ):
            row.addWidget(w)
        row.addStretch(1)
        lines.addWidget(self.consumer_state)
        lines.addLayout(row)
        self.log = LogView()
        self.log.setObjectName("consumer-log")
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("The consumer's output appears here.")
        self.charts = ChartsPanel()
        below = QTabWidget()
        below.setObjectName("workers-tabs")
        self.log_level = QComboBox()
        self.log_level.setObjectName("log-level")
        self.log_level.addItems(["All output", "Warnings and errors"])
        self.log_level.currentIndexChanged.connect(self._rerender_log)
        self._keep_following = True
        self._log_buffer: list[str] = []
        output = QWidget()
        output_layout = QVBoxLayout(output)
        output_layout.setContentsMargins(0, 0, 0, 0)
        output_layout.addWidget(self.log_level)
        output_layout.addWidget(self.log)
        self.below = below
        below.addTab(output, "Consumer output")
        below.addTab(self.charts, "Charts")
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(below)
        self.splitter.setSizes([150, 250])
        # room for a few workers: the tabs below must not squeeze the table to one row
        self.view.setMinimumHeight(self.view.horizontalHeader().sizeHint().height() + 3 * 22 + 6)
        super().__init__("Workers", self.splitter, controls)
        self._log_timer = QTimer(self)
        self._log_timer.setSingleShot(True)
        self._log_timer.setInterval(LOG_FLUSH_MS)
        self._log_timer.timeout.connect(self._flush_log)
        self._apply_timer = QTimer(self)
        self._apply_timer.setObjectName("apply-worker-count")
        self._apply_timer.setSingleShot(True)
        self._apply_timer.setInterval(APPLY_WORKERS_MS)
        self._apply_timer.timeout.connect(self._apply_workers)
        self._wire_consumer()

    def _wire_consumer(self) -> None:
        consumer = self.consumer
        has = consumer is not None
        for button in (
            self.start_button,
            self.stop_button,
            self.restart_button,
            self.worker_count,
        ):
            button.setEnabled(has)
        if consumer is None:
            self.log.setPlaceholderText("Watching only (--no-consumer): no consumer runs here.")
            # no output to show: the workers (of every machine) get the room, charts below
            self.splitter.setSizes([300, 150])
            self.below.setCurrentWidget(self.charts)
            return
        self.start_button.clicked.connect(consumer.start)
        self.stop_button.clicked.connect(consumer.stop)
        self.restart_button.clicked.connect(self._restart)
        self.worker_count.valueChanged.connect(self._apply_timer.start)
        consumer.state_changed.connect(self._consumer_state)
        consumer.output.connect(self._append_output)
        self._consumer_state(consumer.state)

    def _restart(self) -> None:
        self._apply_timer.stop()
        if self.consumer is not None:
            self.consumer.restart(self.worker_count.value())

    def _apply_workers(self) -> None:
        """Apply a changed worker count: restart a running consumer, else use it at Start."""
        consumer = self.consumer
        count = self.worker_count.value()
        if consumer is None or count == consumer.workers:
            return
        if consumer.state in ("starting", "running"):
            consumer.restart(count)
            self.message.emit(
                f"Restarting the consumer with {count} workers; its running tasks finish first.",
                10_000,
            )
        else:
            consumer.workers = count
            self.message.emit(f"The consumer will run {count} workers when it starts.", 8000)

    # -- the consumer's output ---------------------------------------------------------
    def _wanted(self, line: str) -> bool:
        """Whether ``line`` passes the level filter; a traceback follows its log line."""
        if self.log_level.currentIndex() == 0:
            return True
        if line.startswith("["):  # a new log record: "[time] LEVEL:logger:..."
            self._keep_following = any(
                f"] {level}:" in line for level in ("WARNING", "ERROR", "CRITICAL")
            )
            return self._keep_following
        return self._keep_following  # continuation lines and our own messages

    def _append_output(self, line: str) -> None:
        """Queue a line for the log view; lines are added a batch at a time, because one
        layout pass per line stalled the window when a consumer logged 20,000 lines."""
        line = strip_ansi(line)
        if self._wanted(line):
            self._log_buffer.append(line)
            if not self._log_timer.isActive():
                self._log_timer.start()

    def _flush_log(self) -> None:
        lines, self._log_buffer = self._log_buffer[-LOG_LINES:], []
        if lines:
            self.log.appendPlainText("\n".join(lines))

    def _rerender_log(self) -> None:
        self._log_buffer = []
        self.log.clear()
        self._keep_following = True
        if self.consumer is not None:
            for line in list(self.consumer.lines):
                self._append_output(line)
        self._flush_log()

    # -- state -------------------------------------------------------------------------
    def _consumer_state(self, state: str) -> None:
        pid = self.consumer.pid if self.consumer else None
        self.consumer_state.setText(f"consumer: {state}" + (f" (pid {pid})" if pid else ""))
        running = state in ("starting", "running")
        self.start_button.setEnabled(not running and state != "stopping")
        self.stop_button.setEnabled(running)
        self.watch_pid.emit(pid if state == "running" and pid else 0)

    def show_status(self, status: dict) -> None:
        """Workers, counts and the consumer's CPU and memory, from the monitor's status."""
        stats = status.get("process")
        if stats and self.consumer is not None and self.consumer.state == "running":
            self.consumer_state.setText(
                f"consumer: running (pid {stats['pid']}) · up {seconds(stats['uptime_s'])}"
                f" · CPU {stats['cpu_percent']:.0f} % · {stats['rss_mb']:.0f} MB"
            )
        self.model.replace(status["workers"])
        busy = sum(1 for w in status["workers"] if w["state"] == "busy")
        live = sum(1 for w in status["workers"] if w["state"] in ("busy", "idle"))
        self.set_count(f"— {busy} busy of {live}")
