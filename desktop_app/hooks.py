"""The one-line opt-in that makes a stock consumer report to Huey Desk's journal.

Production often runs Huey's own ``huey_consumer`` (or Django's ``manage.py run_huey``)
under systemd or in a container.  Put this in the module that defines the Huey instance::

    from desktop_app.hooks import install
    install(huey)

Nothing happens in the processes that only enqueue (a web app, the window): the hooks
start in the consumer, from Huey's startup hook, which only workers run.  There every
task event is journalled (from a writer thread), and a daemon thread sends a heartbeat
each second for the consumer and the workers that have started.  In ``huey-desk
consumer``, which records everything itself, the hooks stand aside.

What a stock consumer cannot guarantee, and ``huey-desk consumer`` does: a task that a
stock worker took from the queue and was killed with before its first signal leaves no
trace (Huey's dequeue is a delete), and idle workers wake by Huey's polling back-off,
not at once.
"""

from __future__ import annotations

import logging
import os
import threading

from huey import Huey

from desktop_app.core.backends import journal_for, journal_spec
from desktop_app.core.consumer import HEARTBEAT_S, Heartbeat, new_consumer_id
from desktop_app.core.journal import Journal
from desktop_app.core.liveness import host_name
from desktop_app.core.recorder import Recorder

logger = logging.getLogger("huey_desk.hooks")

# The name under which the recorder of ``huey-desk consumer`` registers its shutdown
# hook: when it is there, that consumer records everything already.
_RECORDER_HOOK = "huey_desk_flush"
_STARTUP_HOOK = "huey_desk_hooks_start"
_SHUTDOWN_HOOK = "huey_desk_hooks_stop"


class StockConsumerHooks:
    """Journal, heartbeat and stop record for a consumer Huey Desk did not start."""

    def __init__(
        self,
        huey: Huey,
        journal_path: str | os.PathLike[str] | None = None,
        retain_events: int | None = 1_000_000,
        retain_days: float | None = 30.0,
    ) -> None:
        self.huey = huey
        self.journal_path = journal_path  # None: the backend's default for this storage
        self.retain_events = retain_events
        self.retain_days = retain_days
        self._lock = threading.Lock()
        self._pid: int | None = None  # the process the hooks run in (a fork starts anew)
        self._workers: list[threading.Thread] = []
        self._running = 0
        self._stop = threading.Event()
        self.consumer_id: str | None = None
        self.recorder: Recorder | None = None
        self.journal: Journal | None = None

    def install(self) -> StockConsumerHooks:
        self.huey.on_startup(name=_STARTUP_HOOK)(self.worker_started)
        self.huey.on_shutdown(name=_SHUTDOWN_HOOK)(self.worker_stopped)
        return self

    def uninstall(self) -> None:
        self.huey.unregister_on_startup(_STARTUP_HOOK)
        self.huey.unregister_on_shutdown(_SHUTDOWN_HOOK)
        self._close()

    # -- in the consumer's workers ---------------------------------------------------
    def worker_started(self) -> None:
        """Huey's startup hook, run by each worker as it starts."""
        with self._lock:
            if self._pid != os.getpid():
                if self.recorder is None and _RECORDER_HOOK in self.huey._shutdown:
                    return  # ``huey-desk consumer``: it records everything itself
                self._start()
            self._workers.append(threading.current_thread())
            self._running += 1

    def worker_stopped(self) -> None:
        """Huey's shutdown hook: the last worker to stop records the consumer stopped."""
        with self._lock:
            if self._pid != os.getpid() or self.recorder is None:
                return
            self._running -= 1
            last = self._running <= 0
        if last:
            self._close(stopped=True)

    # -- the process's own state -----------------------------------------------------
    def _start(self) -> None:
        """Register this process as a consumer, start recording and the heartbeat."""
        self._pid = os.getpid()
        self._workers = []
        self._running = 0
        self._stop = threading.Event()
        self.consumer_id = new_consumer_id()
        self.journal = journal_for(self.huey, self.journal_path)
        registration = {
            "host": host_name(),
            "pid": os.getpid(),
            "target": "stock consumer (desktop_app.hooks)",
            "worker_type": "thread",
            "workers": None,
        }
        self.journal.register_consumer(self.consumer_id, **registration)
        spec = journal_spec(self.huey, self.journal_path)
        self.recorder = Recorder(self.huey, spec, self.consumer_id)
        self.recorder.install()
        beat = Heartbeat(
            self.journal, self.consumer_id, self.retain_events, self.retain_days, registration
        )
        threading.Thread(
            target=self._beat, args=(beat,), name="huey-desk-heartbeat", daemon=True
        ).start()
        logger.info("Huey Desk hooks journalling to %s", self.journal.location)

    def _beat(self, beat: Heartbeat) -> None:
        while not self._stop.is_set():
            with self._lock:
                workers = [(t.name, os.getpid(), t.is_alive()) for t in self._workers]
            beat.tick(workers)  # never raises
            self._stop.wait(HEARTBEAT_S)

    def _close(self, stopped: bool = False) -> None:
        self._stop.set()
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.close()
            recorder.uninstall()
        journal, self.journal = self.journal, None
        if journal is not None:
            if stopped and self.consumer_id is not None:
                try:
                    journal.consumer_stopped(self.consumer_id)
                except Exception:
                    logger.exception("Could not record that the consumer stopped")
            journal.close()


def install(huey: Huey, journal_path: str | os.PathLike[str] | None = None) -> StockConsumerHooks:
    """Make any consumer of ``huey`` (``huey_consumer``, ``run_huey``) report to the
    journal that the window and ``huey-desk status`` read; returns the hooks."""
    return StockConsumerHooks(huey, journal_path).install()
