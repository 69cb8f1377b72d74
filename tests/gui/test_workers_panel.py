"""The workers panel: worker count applied, output followed and clean, readable progress."""

from __future__ import annotations

from collections import deque

from huey import MemoryHuey
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QAbstractSlider, QApplication, QStyleOptionViewItem

from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import SqliteJournal
from desktop_app.gui.models import WorkersModel
from desktop_app.gui.workers_panel import ProgressDelegate, WorkersPanel


class FakeConsumer(QObject):
    state_changed = Signal(str)
    output = Signal(str)

    def __init__(self, state: str = "running", workers: int = 2) -> None:
        super().__init__()
        self.state = state
        self.workers = workers
        self.pid = 4242
        self.lines: deque[str] = deque()
        self.restarts: list[int | None] = []

    def start(self) -> None:
        self.state = "running"

    def stop(self) -> None:
        self.state = "stopped"

    def restart(self, workers: int | None = None) -> None:
        self.restarts.append(workers)
        if workers is not None:
            self.workers = workers

    def say(self, line: str) -> None:
        self.lines.append(line)
        self.output.emit(line)


def make(qtbot, consumer=None):
    consumer = consumer or FakeConsumer()
    model = WorkersModel()
    panel = WorkersPanel(model, consumer)
    model.setParent(panel)  # as in the window: the model goes with the widgets that show it
    qtbot.addWidget(panel)
    panel.resize(600, 500)
    return panel, consumer


def test_a_new_worker_count_restarts_a_running_consumer_once_and_says_so(qtbot):
    panel, consumer = make(qtbot)
    with qtbot.waitSignal(panel.message) as said:
        panel.worker_count.setValue(3)
        panel.worker_count.setValue(4)  # clicking the arrow twice: one restart
    assert consumer.restarts == [4]
    assert "Restarting the consumer with 4 workers" in said.args[0]


def test_a_new_worker_count_for_a_stopped_consumer_applies_at_start(qtbot):
    panel, consumer = make(qtbot, FakeConsumer(state="stopped"))
    with qtbot.waitSignal(panel.message) as said:
        panel.worker_count.setValue(5)
    assert consumer.restarts == [] and consumer.workers == 5
    assert "5 workers when it starts" in said.args[0]


def lines_shown(panel, n):
    assert panel.log.blockCount() >= n


def test_the_output_follows_the_end_unless_scrolled_up_and_has_no_colour_codes(qtbot):
    panel, consumer = make(qtbot)
    bar = panel.log.verticalScrollBar()
    for i in range(300):  # at launch: the panel is not shown yet
        consumer.say(f"\x1b[32m[12:00:00] INFO:huey:line {i}\x1b[0m")
    qtbot.waitUntil(lambda: lines_shown(panel, 300))
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    assert "\x1b" not in panel.log.toPlainText() and "[32m" not in panel.log.toPlainText()
    assert panel.log.toPlainText().endswith("INFO:huey:line 299")
    # hidden (to the tray) and shown again while output arrives: still at the end
    panel.hide()
    for i in range(300, 400):
        consumer.say(f"line {i}")
    qtbot.waitUntil(lambda: lines_shown(panel, 400))
    panel.show()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())
    # scrolled up (a click on the scroll bar's track): new output does not pull it down
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMinimum)
    bar.triggerAction(QAbstractSlider.SliderAction.SliderPageStepAdd)
    up = bar.value()
    assert 0 < up < bar.maximum()
    for i in range(400, 450):
        consumer.say(f"line {i}")
    qtbot.waitUntil(lambda: lines_shown(panel, 450))
    assert bar.value() == up
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMaximum)  # back at the end
    consumer.say("line 450")
    qtbot.waitUntil(lambda: lines_shown(panel, 451))
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())


def test_progress_text_is_not_drawn_on_the_bar(qtbot):
    model = WorkersModel()
    model.replace(
        [
            {
                "consumer": "c",
                "name": "w1",
                "state": "busy",
                "progress": 1.0,  # a full bar: text on it would be on the bar colour
                "progress_message": "send",
            }
        ]
    )
    image = QImage(200, 24, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    option = QStyleOptionViewItem()
    option.rect = image.rect()
    option.palette = QApplication.palette()
    painter = QPainter(image)
    ProgressDelegate().paint(painter, option, model.index(0, model.PROGRESS))
    painter.end()
    highlight = QApplication.palette().highlight().color()
    # the text line (the upper part of the cell) has no bar colour behind the text
    top = {image.pixelColor(x, y).rgb() for x in range(200) for y in range(2, 14)}
    assert highlight.rgb() not in top
    bottom = {image.pixelColor(x, 21).rgb() for x in range(20, 180)}
    assert bottom != {QColor("white").rgb()}  # the bar is there, under the text


def test_after_a_restart_only_the_new_consumers_workers_are_listed(qtbot, tmp_path):
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    info = {"host": "h", "pid": 1, "target": "tasks:huey", "workers": 2}
    journal.register_consumer("old", **info)
    journal.beat("old", [("Worker-1", 1, True), ("Worker-2", 1, True)])
    journal.consumer_stopped("old")
    journal.register_consumer("new", **info | {"pid": 2})
    journal.beat("new", [("Worker-1", 2, True), ("Worker-2", 2, True), ("Worker-3", 2, True)])
    # another target's stopped consumer on the same host is still listed (it is not replaced)
    journal.register_consumer("other", **info | {"target": "other:huey"})
    journal.beat("other", [("Worker-1", 3, True)])
    journal.consumer_stopped("other")
    # a consumer killed before the restart: its heartbeats stopped (written as stale here)
    journal.register_consumer("killed", **info)
    journal.beat("killed", [("Worker-2", 4, True)])
    journal._conn().execute(
        "UPDATE consumers SET last_beat = last_beat - 60 WHERE consumer_id = 'killed'"
    )
    journal._conn().execute(
        "UPDATE workers SET last_beat = last_beat - 60 WHERE consumer_id = 'killed'"
    )
    workers = Inspector(MemoryHuey("t"), journal).workers()
    listed = sorted((w["consumer"], w["name"], w["state"]) for w in workers)
    assert listed == [
        ("new", "Worker-1", "idle"),
        ("new", "Worker-2", "idle"),
        ("new", "Worker-3", "idle"),
        ("other", "Worker-1", "stopped"),
    ]
    panel, _ = make(qtbot)
    panel.show_status({"workers": workers})
    assert panel.model.rowCount() == 4
    journal.close()
