"""Run storage calls on the thread pool and hand their outcome back as Qt signals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from desktop_app.core.errors import UserError

_running: set[Job] = set()  # keeps jobs (and their signal objects) alive until they end


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str)


class Job(QRunnable):
    """One call off the GUI thread: ``done(result)`` or ``failed(sentence)`` on return."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.call = call
        self.signals = _Signals()

    def run(self) -> None:
        try:
            result = self.call()
        except UserError as exc:
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # the window must stay up whatever the storage does
            self.signals.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.signals.done.emit(result)


def run_job(
    call: Callable[[], Any],
    done: Callable[[Any], None] | None = None,
    failed: Callable[[str], None] | None = None,
) -> Job:
    """Start ``call`` on the global thread pool; ``done``/``failed`` run on the GUI thread."""
    job = Job(call)
    if done is not None:
        job.signals.done.connect(done)
    if failed is not None:
        job.signals.failed.connect(failed)
    job.signals.done.connect(lambda _result: _running.discard(job))
    job.signals.failed.connect(lambda _message: _running.discard(job))
    _running.add(job)
    QThreadPool.globalInstance().start(job)
    return job
