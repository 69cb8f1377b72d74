"""Bulk retry and revoke from the window: counted, confirmed, run in chunks on the thread
pool, with a progress bar and Cancel; the GUI thread only shows what the job reports."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from desktop_app.core.bulk import RETRY, BulkAction, BulkProgress, Selection
from desktop_app.gui.jobs import run_job


class BulkRunner(QObject):
    """One bulk action at a time: ``count`` then ``start``, off the GUI thread.

    Its signals are emitted from the pool's thread and delivered on the GUI thread
    (the runner lives there): ``counted(action, total)`` after ``count``,
    ``progressed(progress)`` after each chunk, ``finished(progress)`` at the end (or
    after a cancel), ``failed(sentence)`` when storage failed."""

    counted = Signal(object, int)
    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, dispatcher: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dispatcher = dispatcher
        self._cancel = threading.Event()
        self._stopped = threading.Event()  # set by the pool's thread when the job ends
        self._stopped.set()
        self._busy = False  # the GUI thread's view: until the outcome is delivered

    @property
    def busy(self) -> bool:
        """Whether a count or a run is under way."""
        return self._busy

    def count(self, action: str, selection: Selection) -> None:
        """Count the selection (which also fixes it) and emit ``counted``."""

        def call() -> tuple[BulkAction, int]:
            bulk = BulkAction(self.dispatcher, action, selection)
            return bulk, bulk.count(cancelled=self._cancel.is_set)

        self._begin(call, lambda result: self._counted(*result))

    def _counted(self, bulk: BulkAction, total: int) -> None:
        cancelled = self._cancel.is_set()
        self._busy = False
        if cancelled:
            self.finished.emit(BulkProgress(bulk.action, total, cancelled=True, finished=True))
        else:
            self.counted.emit(bulk, total)

    def start(self, bulk: BulkAction, total: int) -> None:
        """Run ``bulk`` (counted at ``total``); progress after each chunk."""

        def report(progress: BulkProgress) -> None:
            self.progressed.emit(dataclasses.replace(progress, reasons=list(progress.reasons)))

        def call() -> BulkProgress:
            return bulk.run(total, on_progress=report, cancelled=self._cancel.is_set)

        self._begin(call, self._finished)

    def _begin(self, call: Callable[[], Any], done: Callable[[Any], None]) -> None:
        self._cancel.clear()
        self._stopped.clear()
        self._busy = True

        def job() -> Any:
            try:
                return call()
            finally:
                self._stopped.set()

        run_job(job, done, self._failed)

    def _finished(self, progress: BulkProgress) -> None:
        self._busy = False
        self.finished.emit(progress)

    def _failed(self, message: str) -> None:
        self._busy = False
        self.failed.emit(message)

    def cancel(self) -> None:
        """Stop after the chunk under way (what it did stays done and journalled)."""
        self._cancel.set()

    def cancel_and_wait(self, timeout_s: float = 10.0) -> bool:
        """Cancel and wait for the job to stop (for shutdown); False if it did not."""
        self.cancel()
        return self._stopped.wait(timeout_s)


class BulkBar(QWidget):
    """What a bulk action is doing: a line of text, a progress bar, and Cancel."""

    def __init__(self, runner: BulkRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bulk-bar")
        self.text = QLabel()
        self.bar = QProgressBar()
        self.bar.setObjectName("bulk-progress")
        self.bar.setFormat("%v of %m")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("bulk-cancel")
        self.cancel_button.setToolTip("Stop after the chunk under way; what was done stays done")
        self.cancel_button.clicked.connect(runner.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        runner.progressed.connect(self.show_progress)
        self.hide()

    def counting(self, what: str) -> None:
        """A count is under way: a busy bar."""
        self.text.setText(f"Counting {what}…")
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.show()

    def running(self, action: str, total: int) -> None:
        self.text.setText("Retrying" if action == RETRY else "Revoking")
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(0)
        self.cancel_button.setEnabled(True)
        self.show()

    def show_progress(self, progress: BulkProgress) -> None:
        self.bar.setMaximum(max(progress.total, 1))
        self.bar.setValue(progress.done)
        if progress.cancelled:
            self.cancel_button.setEnabled(False)
