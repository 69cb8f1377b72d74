"""The consumer the window runs: a ``QProcess`` wrapped in a ``QObject`` with its state.

States: stopped, starting, running, stopping, crashed.  Stopping sends SIGINT (running
tasks finish); if the consumer has not exited after ``STOP_TIMEOUT_MS`` it is killed.
A consumer that dies on its own is restarted with back-off, up to a limit.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

STOP_TIMEOUT_MS = 30_000
LOG_LINES = 5000
# A consumer that dies is started again after 1, 2, 4, 8, 16 s; after this many deaths
# within CRASH_WINDOW_S it is left stopped, with a message saying so.
MAX_RESTARTS = 5
CRASH_WINDOW_S = 60.0
USAGE_EXIT = 2  # the consumer refused its arguments or target: restarting cannot help


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
        self.crashes: list[float] = []
        # re-run the tasks a dead consumer left that declared retries (a setting)
        self.rerun_interrupted = True
        self.restart_timer = QTimer(self)
        self.restart_timer.setObjectName("consumer-restart-timer")
        self.restart_timer.setSingleShot(True)
        self.restart_timer.timeout.connect(self.start)

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
        if not self.rerun_interrupted:
            args.append("--no-rerun-interrupted")
        return [*args, "--parent-pid", str(os.getpid())]

    def start(self) -> None:
        self.restart_timer.stop()
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
        self.restart_timer.stop()
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
            self._say(line)

    def _say(self, line: str) -> None:
        """One line for the log: the consumer's own, or ours about the consumer."""
        self.lines.append(line)
        self.output.emit(line)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        if self._partial:
            self._say(self._partial)
            self._partial = ""
        stopping = self.state == "stopping"
        crashed = not stopping and (status == QProcess.ExitStatus.CrashExit or code != 0)
        self._set("crashed" if crashed else "stopped")
        if self._restart_after_stop:
            self._restart_after_stop = False
            self.start()
        elif crashed:
            self._after_crash(code, status)

    def _after_crash(self, code: int, status: QProcess.ExitStatus) -> None:
        """Start a consumer that died again, with back-off, unless that cannot help."""
        how = (
            "was killed" if status == QProcess.ExitStatus.CrashExit else f"exited with code {code}"
        )
        if status == QProcess.ExitStatus.NormalExit and code == USAGE_EXIT:
            reason = self.lines[-1] if self.lines else ""
            self._say(f"The consumer cannot start ({reason.strip()}); fix that and press Start.")
            return
        now = time.monotonic()
        self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW_S] + [now]
        if len(self.crashes) > MAX_RESTARTS:
            self._say(
                f"The consumer {how} {len(self.crashes)} times within a "
                "minute; not restarting it. Its output above says why; press "
                "Start when it is fixed."
            )
            return
        delay = 2 ** (len(self.crashes) - 1)
        self._say(f"The consumer {how} unexpectedly; restarting it in {delay} s.")
        self.restart_timer.start(delay * 1000)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._say(f"The consumer could not be started ({self.process.errorString()}).")
            self._set("crashed")

    def _set(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def wait_stopped(self, timeout_ms: int = STOP_TIMEOUT_MS) -> bool:
        """Stop and wait (only at application exit, never from a slot); True when the
        consumer did not finish its tasks in time and was killed."""
        if self.state in ("starting", "running"):
            self.stop()
        running = self.process.state() != QProcess.ProcessState.NotRunning
        if running and not self.process.waitForFinished(timeout_ms):
            self.process.kill()
            self.process.waitForFinished(5000)
            return True
        return False
