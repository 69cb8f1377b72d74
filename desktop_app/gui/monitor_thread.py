"""The thread the monitor runs in: a ``QThread`` whose event loop runs from Python."""

from __future__ import annotations

from PySide6.QtCore import QMetaObject, Qt, QThread

from desktop_app.gui.monitor import Monitor


class MonitorThread(QThread):
    """The thread the monitor lives in (named, for leak checks and debugging)."""

    def __init__(self, monitor: Monitor) -> None:
        super().__init__()
        self.setObjectName("huey-desk-monitor")
        monitor.moveToThread(self)
        self.started.connect(monitor.start)
        self.monitor = monitor

    def run(self) -> None:
        """Run the event loop from Python, so the thread keeps one Python thread state.

        With Qt's own ``run`` every slot call into Python made a fresh thread state, so
        ``threading.local`` forgot everything between calls: the journal and Huey's
        storage opened a new SQLite connection on every tick (seen as connection ids
        changing from call to call, and an attached database vanishing).
        """
        self.exec()

    def shutdown(self) -> None:
        """Stop the monitor (in its thread, waiting for it), then the thread.  A thread
        that never started has no loop to run the stop: waiting for it would hang."""
        if not self.isRunning():
            return
        QMetaObject.invokeMethod(self.monitor, "stop", Qt.ConnectionType.BlockingQueuedConnection)
        self.quit()
        self.wait(10_000)
