"""File → Serve metrics: the window serves its queue's Prometheus figures while checked."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction

from desktop_app.core.metrics import MetricsServer
from desktop_app.gui.jobs import run_job

DEFAULT_PORT = 9464  # the port Prometheus's registry of exporters leaves to this kind
BIND = "127.0.0.1"  # this machine only; huey-desk metrics --bind serves other networks


class MetricsToggle(QObject):
    """A checkable action that starts and stops a ``MetricsServer`` off the GUI thread;
    its state and port are kept in the settings, so a window that served them does again."""

    said = Signal(str, int)  # for the status bar: text, milliseconds
    _fault = Signal(str)  # from the server's follower thread

    def __init__(self, parent: QObject, inspector: Any, settings: QSettings) -> None:
        super().__init__(parent)
        self.inspector = inspector
        self.settings = settings
        self.port = int(settings.value("metrics/port", DEFAULT_PORT, type=int))
        self.server: MetricsServer | None = None
        self.action = QAction(f"Serve &metrics on {BIND}:{self.port}", parent)
        self.action.setCheckable(True)
        self.action.setToolTip(
            f"Prometheus / OpenMetrics text at http://{BIND}:{self.port}/metrics "
            "(queue depth, tasks finished, durations, waits, workers)"
        )
        self.action.setEnabled(inspector is not None)
        self._fault.connect(lambda text: self.said.emit(text, 10_000))
        self.action.toggled.connect(self._toggled)

    def restore(self) -> None:
        """Serve again when the last window did (call once the window is up)."""
        if self.settings.value("metrics/serve", False, type=bool):
            self.action.setChecked(True)

    def _toggled(self, on: bool) -> None:
        self.settings.setValue("metrics/serve", on)
        if on and self.server is None and self.inspector is not None:
            inspector, port = self.inspector, self.port

            def start() -> MetricsServer:  # a port in use: UserError, said in the status bar
                return MetricsServer(
                    inspector, inspector.journal, port, BIND, say=self._fault.emit
                )

            run_job(start, self._started, self._refused)
        elif not on and self.server is not None:
            server, self.server = self.server, None
            run_job(server.close, lambda _r: self.said.emit("Metrics no longer served.", 5000))

    def _started(self, server: MetricsServer) -> None:
        if not self.action.isChecked():  # switched off while it started
            run_job(server.close)
            return
        self.server = server
        self.said.emit(f"Serving metrics at http://{BIND}:{server.port}/metrics", 8000)

    def _refused(self, why: str) -> None:
        self.action.blockSignals(True)
        self.action.setChecked(False)
        self.action.blockSignals(False)
        self.settings.setValue("metrics/serve", False)
        self.said.emit(why, 10_000)

    def close(self) -> None:
        """Stop serving now (the window is closing); the setting is kept."""
        if self.server is not None:
            self.server.close()
            self.server = None
