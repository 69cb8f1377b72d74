"""Run the Huey consumer with our hooks: journal, heartbeats, and instant wake-up.

This is ``huey-desk consumer``: the process the window spawns, and the one users run
under systemd so that a consumer the window did not start reports to the journal too.
It must run in the main thread of its process (Huey installs signal handlers); SIGINT
stops it gracefully (running tasks finish), SIGTERM interrupts running tasks.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import Any

from huey import Huey
from huey.consumer import Consumer, Worker, WorkerRecycle
from huey.storage import SqliteStorage

from desktop_app.core.backends import (
    connection_fault,
    inflight_for,
    journal_for,
    journal_spec,
    unreachable,
)
from desktop_app.core.execute_guard import ExecuteGuard
from desktop_app.core.inflight import (
    InFlightBase,
    RecoveryReport,
    UnrunnableMessage,
    recover,
)
from desktop_app.core.journal import Journal
from desktop_app.core.liveness import host_name, process_alive
from desktop_app.core.recorder import Recorder
from desktop_app.core.wakeup import QueueWatcher, StopPipe, watched_files

logger = logging.getLogger("huey_desk.consumer")

HEARTBEAT_S = 1.0
PRUNE_EVERY_S = 600.0
# How often a running consumer recovers the tasks of dead consumers and worker processes.
RECOVER_EVERY_S = 2.0
LOG_FORMAT = "[%(asctime)s] %(levelname)s:%(name)s:%(threadName)s:%(message)s"


# After a change notification, how long to wait before each look that finds nothing.
# SQLite writes the log file before it publishes the commit (in shared memory, which
# inotify cannot see), so a worker woken by the write can look a fraction of a
# millisecond too early; a few quick second looks close that race.
RECHECK_DELAYS_S = (0.0005, 0.002, 0.008, 0.032)


class DeskWorker(Worker):
    """A Huey worker that, when the queue is empty, waits for a change instead of polling."""

    watch_files: list = []
    stop_fd: int | None = None
    inflight: InFlightBase | None = None
    consumer_pid: int | None = None

    def initialize(self) -> None:
        # Runs in the worker's own thread or process, so each has its own watch.
        self._watcher = QueueWatcher(self.watch_files, self.stop_fd)
        self._rechecks: list[float] = []
        super().initialize()

    def loop(self, now: Any = None) -> None:
        if self._orphaned():
            # A worker process whose consumer was killed: finish nothing new, exit.
            self.stop_flag.set()
            return
        done = self.task_count
        finished = False
        try:
            super().loop(now)
            finished = True
        except WorkerRecycle:
            finished = True  # raised after the task, when max_tasks is reached
            raise
        finally:
            if self.inflight is not None:
                # Done with the message whatever the outcome; stopped in the middle (an
                # interrupt), its in-flight row stays for recovery.
                if finished:
                    self.inflight.finish()
                else:
                    self.inflight.abandon()
        if self.task_count != done and self._watcher.armed:
            self._watcher.disarm()  # busy: stop paying for notifications

    def _orphaned(self) -> bool:
        pid = self.consumer_pid
        return pid is not None and os.getpid() != pid and os.getppid() != pid

    def sleep(self) -> None:
        """Called by Huey when the queue was empty, or when reading it raised.

        Huey calls ``sleep`` from its ``except`` block after a failed dequeue, so an
        exception being handled here means the storage failed: wait with Huey's own
        back-off (``delay`` growing by ``backoff`` up to ``max_delay``, reset by the next
        task), or an outage would be retried, and logged, several times a second.

        After an empty blocking take (Redis: ``BLMOVE`` waited up to a second) look again
        at once.  Otherwise, on an empty queue, wait for a change instead.  On the first
        empty look the watch is armed and the queue looked at once more (a task enqueued
        before the watch existed would send no notification).  A notification that
        arrived since the last look means the queue may have changed after it: look
        again, after a short pause, before blocking.
        """
        if self.stop_flag.is_set():
            return
        error = sys.exc_info()[1]
        if isinstance(error, UnrunnableMessage):
            return  # kept, not a storage failure: the next message may be waiting
        if error is not None:
            if not _outage_wait(self, error):
                super().sleep()
            return
        if self.inflight is not None and self.inflight.blocking:
            return  # the take itself waited for work (a blocking pop): look again now
        if not self._watcher.armed:
            self._watcher.arm()
            if self._watcher.armed:
                return
        if self._watcher.drain():
            self._rechecks = list(RECHECK_DELAYS_S)
        if self._rechecks:
            self._watcher.wait(self._rechecks.pop(0))
        else:
            self._watcher.wait()

    def shutdown(self) -> None:
        try:
            if self.inflight is not None:
                self.inflight.release()  # the last finished message, when stopping
            super().shutdown()
        finally:
            watcher = getattr(self, "_watcher", None)
            if watcher is not None:
                watcher.close()


# -- storage outages: one line each, never Huey's tracebacks --------------------------
# A worker's first wait when Redis is unreachable; each next one doubles, to max_delay.
OUTAGE_FIRST_S = 0.5
# A fault this long after the last wait ended starts a new outage (its waits start over).
OUTAGE_GAP_S = 1.0
# The lines that are not one per back-off (the scheduler's, the heartbeat's, recovery's)
# are repeated at most this often while the outage lasts.
OUTAGE_REPEAT_S = 30.0


def _outage_wait(worker: DeskWorker, error: BaseException) -> bool:
    """Wait out an unreachable Redis with one line per back-off ("Redis at URL is
    unreachable; retrying in N s"); False when ``error`` is no such fault."""
    sentence = unreachable(worker.huey, error)
    if sentence is None:
        return False
    now = time.monotonic()
    wait = getattr(worker, "_outage_s", OUTAGE_FIRST_S)
    if now - getattr(worker, "_outage_ended", -OUTAGE_GAP_S) >= OUTAGE_GAP_S:
        wait = OUTAGE_FIRST_S  # it answered in between: a new outage
    wait = min(wait, worker.max_delay)
    logger.warning("%s; retrying in %g s", sentence, wait)
    worker.stop_flag.wait(wait)
    worker._outage_s = wait * 2
    worker._outage_ended = time.monotonic()
    return True


class OutageFilter(logging.Filter):
    """Huey's own tracebacks for an unreachable Redis become one line: a worker's failed
    take is dropped (its back-off says it), the scheduler's failed read is said once per
    ``OUTAGE_REPEAT_S``, anything else (a result that could not be stored) keeps Huey's
    message with the sentence instead of the traceback."""

    def __init__(self, huey: Huey) -> None:
        super().__init__()
        self.huey = huey
        self._said: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        sentence = unreachable(self.huey, error)
        if sentence is None:
            return True
        message = record.getMessage()
        if message == "Error reading from queue":
            return False
        if message == "Error reading schedule.":
            now = time.monotonic()
            if now - self._said.get(message, -OUTAGE_REPEAT_S) < OUTAGE_REPEAT_S:
                return False
            self._said[message] = now
            message = "The scheduler cannot read the schedule"
        record.msg, record.args = f"{message.rstrip('.')}: {sentence}.", ()
        record.exc_info = record.exc_text = None
        return True

    def install(self) -> None:
        for name in ("huey.consumer.Worker", "huey.consumer.Scheduler"):
            logging.getLogger(name).addFilter(self)

    def uninstall(self) -> None:
        for name in ("huey.consumer.Worker", "huey.consumer.Scheduler"):
            logging.getLogger(name).removeFilter(self)


class _Repeats:
    """One line per ``OUTAGE_REPEAT_S`` for each source of a repeated fault, and a line
    when that source works again."""

    def __init__(self) -> None:
        self._said: dict[str, float] = {}

    def fault(self, source: str, sentence: str) -> None:
        now = time.monotonic()
        if now - self._said.get(source, -OUTAGE_REPEAT_S) >= OUTAGE_REPEAT_S:
            self._said[source] = now
            logger.warning("%s failed: %s", source, sentence)

    def ok(self, source: str) -> None:
        if self._said.pop(source, None) is not None:
            logger.warning("%s succeeded again.", source)


_repeats = _Repeats()


class DeskConsumer(Consumer):
    """Huey's consumer with wake-up workers, a stop that wakes them at once, and a
    heartbeat written from its main loop.

    The heartbeat runs in the main thread on purpose: with process workers Huey forks,
    and a fork while another thread is inside SQLite leaves the child holding a lock
    that nobody will release (seen: a worker process hung in ``sqlite3.connect``).
    """

    worker_class = DeskWorker

    def __init__(
        self,
        huey: Huey,
        heartbeat: Heartbeat | None = None,
        parent_pid: int | None = None,
        inflight: InFlightBase | None = None,
        recovery: Recovery | None = None,
        **options: Any,
    ) -> None:
        self.parent_pid = parent_pid
        self._stop_pipe = StopPipe()
        self._watch_files = watched_files(huey)
        self.heartbeat = heartbeat
        self.inflight = inflight
        self.recovery = recovery
        super().__init__(huey, **options)
        # Huey restarts itself on SIGHUP with exec(), skipping our cleanup (the consumer
        # would never be marked stopped); here SIGHUP stops gracefully instead.
        if hasattr(signal, "SIGHUP"):
            self._signal_actions[signal.SIGHUP] = (False, True)

    def _create_worker(self) -> Worker:
        worker = super()._create_worker()
        worker.watch_files = self._watch_files
        worker.stop_fd = self._stop_pipe.read_fd
        worker.inflight = self.inflight
        worker.consumer_pid = os.getpid()
        return worker

    def loop(self, health_check_ts: float | None = None) -> float | None:
        if self.heartbeat is not None:
            self.heartbeat.tick(self.worker_status())
        if self.recovery is not None and self._signum is None:
            self.recovery.tick()
        if self.parent_pid and self._signum is None and not process_alive(self.parent_pid):
            # The window that started this consumer is gone (killed, crashed): stop the
            # way SIGINT would, letting running tasks finish, instead of running orphaned.
            logger.warning(
                "Process %d that started this consumer is gone; stopping.", self.parent_pid
            )
            self._signum = signal.SIGINT
            self._restart, self._graceful = False, True
        return super().loop(health_check_ts)

    def stop(self, graceful: bool = False) -> None:
        self._stop_pipe.set()
        super().stop(graceful)

    def worker_status(self) -> list[tuple[str, int, bool]]:
        """(name, pid, alive) for each worker, for the heartbeat."""
        status = []
        for _, proc in self.worker_threads:
            pid = getattr(proc, "pid", None) or os.getpid()
            status.append((proc.name, pid, bool(self.environment.is_alive(proc))))
        return status


class Heartbeat:
    """Tells the journal, every second, that this consumer and its workers are alive,
    and prunes the journal every ten minutes."""

    def __init__(
        self,
        journal: Journal,
        consumer_id: str,
        retain_events: int | None,
        retain_days: float | None,
        registration: dict[str, Any] | None = None,
    ) -> None:
        """``registration``: what the consumer was registered with, to register it again
        when the journal forgot it (a Redis restarted without persistence)."""
        self.journal = journal
        self.consumer_id = consumer_id
        self.registration = registration
        self.retain_events = retain_events
        self.retain_s = retain_days * 86400 if retain_days else None
        self._next_beat = 0.0
        self._next_prune = 0.0

    def tick(self, workers: list[tuple[str, int, bool]]) -> None:
        """Beat (and prune) if it is time; never raises: the consumer must go on."""
        now = time.monotonic()
        if now < self._next_beat:
            return
        self._next_beat = now + HEARTBEAT_S
        try:
            known = self.journal.beat(self.consumer_id, workers)
            if known is False and self.registration is not None:
                logger.warning(
                    "The journal no longer knows this consumer (was Redis emptied?); "
                    "registering it again."
                )
                self.journal.register_consumer(self.consumer_id, **self.registration)
                self.journal.beat(self.consumer_id, workers)
            if now >= self._next_prune:
                self._next_prune = now + PRUNE_EVERY_S
                if self.retain_events or self.retain_s:
                    self.journal.prune(self.retain_events, self.retain_s)
        except Exception as exc:
            fault = connection_fault(exc)
            if fault is None:
                logger.exception("Heartbeat failed")
            else:
                _repeats.fault("Heartbeat", fault)  # one line, not a traceback
        else:
            _repeats.ok("Heartbeat")


class Recovery:
    """Every few seconds, recovers the tasks of consumers and worker processes that died.

    It runs in the consumer's main thread, between heartbeats.  With process workers the
    queue connection it opened is closed again at once: Huey forks replacement workers
    from this thread, and a child must not inherit an open SQLite connection.
    """

    def __init__(
        self,
        huey: Huey,
        journal: Journal,
        rerun: bool,
        forks: bool,
        every_s: float = RECOVER_EVERY_S,
    ) -> None:
        self.huey = huey
        self.journal = journal
        self.rerun = rerun
        self.forks = forks
        self.every_s = every_s
        self._next = time.monotonic() + every_s

    def run(self) -> RecoveryReport | None:
        """Recover now; never raises: the consumer must go on."""
        try:
            report = recover(self.huey, self.journal, rerun=self.rerun)
        except Exception as exc:
            fault = connection_fault(exc)
            if fault is None:
                logger.exception("Recovery of interrupted tasks failed")
            else:
                _repeats.fault("Recovery of interrupted tasks", fault)
            return None
        finally:
            if self.forks and isinstance(self.huey.storage, SqliteStorage):
                self.huey.storage.close()
        _repeats.ok("Recovery of interrupted tasks")
        for item in report.interrupted:
            then = "re-run" if item.rerun else "kept for a manual re-run" if item.kept else ""
            logger.warning(
                "Task %s (%s) %s%s.",
                item.task_id,
                item.task_name,
                item.error,
                f"; {then}" if then else "",
            )
        return report

    def tick(self) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every_s
            self.run()


def new_consumer_id() -> str:
    return f"{host_name()}:{os.getpid()}:{int(time.time() * 1000)}"


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)


def run_consumer(
    huey: Huey,
    target: str,
    *,
    workers: int = 1,
    worker_type: str = "thread",
    journal_path: str | os.PathLike[str] | None = None,
    retain_events: int | None = 1_000_000,
    retain_days: float | None = 30.0,
    periodic: bool = True,
    parent_pid: int | None = None,
    rerun_interrupted: bool = True,
    options: dict[str, Any] | None = None,
) -> None:
    """Run the consumer in this (main) thread until it is stopped (or, with
    ``parent_pid``, until that process is gone).  ``options``: more of Huey's consumer
    options (a Django project's ``settings.HUEY['consumer']``), over our defaults.

    At start-up and every few seconds it recovers tasks interrupted by a consumer or
    worker process that died; with ``rerun_interrupted`` those that declared retries
    run again.
    """
    journal = journal_for(huey, journal_path)
    consumer_id = new_consumer_id()
    spec = journal_spec(huey, journal_path)
    recorder = Recorder(huey, spec, consumer_id, worker_type, writer="process")
    inflight = inflight_for(huey, consumer_id, worker_type, target=target, report=recorder.put)
    every = inflight.recover_every_s if inflight is not None else RECOVER_EVERY_S
    recovery = Recovery(
        huey, journal, rerun_interrupted, forks=worker_type == "process", every_s=every
    )
    recovery.run()
    registration = {
        "host": host_name(),
        "pid": os.getpid(),
        "target": target,
        "worker_type": worker_type,
        "workers": workers,
        "storage": type(huey.storage).__name__,  # tells --redis the kind of the queue
    }
    journal.register_consumer(consumer_id, **registration)
    recorder.install()
    guard = ExecuteGuard(huey)  # after the recorder: its error hook must be there first
    guard.install()
    outages = OutageFilter(huey)
    outages.install()
    if inflight is not None:
        inflight.install()
    consumer = DeskConsumer(
        huey,
        heartbeat=Heartbeat(journal, consumer_id, retain_events, retain_days, registration),
        parent_pid=parent_pid,
        inflight=inflight,
        recovery=recovery,
        **{
            "check_worker_health": True,
            "health_check_interval": 1,
            **(options or {}),
            "workers": workers,
            "worker_type": worker_type,
            "periodic": periodic,
        },
    )
    logger.info("Huey Desk consumer %s journalling to %s", consumer_id, journal.location)
    try:
        consumer.run()
    finally:
        recorder.close()
        recorder.uninstall()
        guard.uninstall()
        outages.uninstall()
        if inflight is not None:
            inflight.uninstall()
        try:
            journal.consumer_stopped(consumer_id)
        except Exception:
            logger.exception("Could not record that the consumer stopped")
        journal.close()
