"""The consumer the window runs: a ``QProcess`` wrapped in a ``QObject`` with its state.

States: stopped, starting, running, stopping, crashed.  Stopping sends SIGINT (running
tasks finish); if the consumer has not exited after ``STOP_TIMEOUT_MS`` it is killed.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import deque

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

STOP_TIMEOUT_MS = 30_000
LOG_LINES = 5000


class ConsumerProcess(QObject):
    """Starts, stops and restarts ``huey-desk consumer``; relays its state and output."""

    state_changed = Signal(str)
    output = Signal(str)  # one line of the consumer's stdout/stderr

    def __init__(
        self,
        target: str,
        workers: int = 2,
        paths: tuple[str, ...] = (),
        journal: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.target = target
        self.workers = workers
        self.paths = paths
        self.journal = journal
        self.state = "stopped"
        self.lines: deque[str] = deque(maxlen=LOG_LINES)
        self._restart_after_stop = False
        self._partial = ""
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.started.connect(lambda: self._set("running"))
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self._kill_timer = QTimer(self)
        self._kill_timer.setObjectName("consumer-kill-timer")
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self.process.kill)

    @property
    def pid(self) -> int | None:
        pid = self.process.processId()
        return pid or None

    def arguments(self) -> list[str]:
        args = [
            "-m",
            "desktop_app",
            "consumer",
            "--huey",
            self.target,
            "--workers",
            str(self.workers),
        ]
        for path in self.paths:
            args += ["--path", path]
        if self.journal:
            args += ["--journal", self.journal]
        return args

    def start(self) -> None:
        if self.state in ("starting", "running", "stopping"):
            return
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        self.process.setProcessEnvironment(env)
        self.process.setWorkingDirectory(os.getcwd())
        self._set("starting")
        self.process.start(sys.executable, self.arguments())

    def stop(self) -> None:
        """Stop gracefully: SIGINT, then kill after the timeout."""
        if self.state not in ("starting", "running") or not self.pid:
            return
        self._set("stopping")
        os.kill(self.pid, signal.SIGINT)
        self._kill_timer.start(STOP_TIMEOUT_MS)

    def restart(self, workers: int | None = None) -> None:
        if workers is not None:
            self.workers = workers
        if self.state in ("starting", "running"):
            self._restart_after_stop = True
            self.stop()
        else:
            self.start()

    def _read(self) -> None:
        text = self._partial + bytes(self.process.readAllStandardOutput()).decode(
            "utf-8", "replace"
        )
        *lines, self._partial = text.split("\n")
        for line in lines:
            self.lines.append(line)
            self.output.emit(line)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        stopping = self.state == "stopping"
        crashed = status == QProcess.ExitStatus.CrashExit or (code != 0 and not stopping)
        self._set("crashed" if crashed and not stopping else "stopped")
        if self._restart_after_stop:
            self._restart_after_stop = False
            self.start()

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.output.emit(f"The consumer could not be started ({self.process.errorString()}).")
            self._set("crashed")

    def _set(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def wait_stopped(self, timeout_ms: int = STOP_TIMEOUT_MS) -> None:
        """Stop and wait (only at application exit, never from a slot)."""
        if self.state in ("starting", "running"):
            self.stop()
        running = self.process.state() != QProcess.ProcessState.NotRunning
        if running and not self.process.waitForFinished(timeout_ms):
            self.process.kill()
            self.process.waitForFinished(5000)
