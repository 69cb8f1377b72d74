"""Metrics export: the queue and the journal as Prometheus / OpenMetrics text.

Built on ``prometheus-client`` (the library Prometheus's own Python exporters use).  Two
kinds of figures:

- read at each scrape from storage: queue depth, tasks in the journal per state, workers
  per state and host;
- folded from the journal's events, read by cursor from the moment the exporter starts
  (so they are counters in Prometheus's sense): tasks finished per state and task name,
  task durations, queue wait, interrupted tasks, and how far behind the journal the
  exporter reads.

A scrape reads only the events that arrived since the last one.  Nothing here writes to
storage: the exporter can watch a queue it does not own.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from desktop_app.core.backends import connection_fault
from desktop_app.core.errors import UserError
from desktop_app.core.journal import Event, Journal
from desktop_app.core.states import ENQUEUED, ERROR, EXECUTING, FINAL_STATES, INTERRUPTED, label
from desktop_app.core.storage_errors import explain

PREFIX = "huey_desk"
FOLLOW_EVERY_S = 0.5  # how often the serving exporter reads new events between scrapes
TAIL_BATCH = 5000  # events read per journal call while catching up
REMEMBERED_ENQUEUES = 100_000  # enqueue times kept for the wait of tasks not yet started
# Task durations and queue waits, in seconds: from a no-op to a long report.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


class JournalMetrics(Collector):
    """Prometheus figures for one queue: its storage through ``inspector`` and its journal.

    Register it on a ``CollectorRegistry`` (``registry()`` does) and serve that registry;
    each collection first folds in the events that are new since the last one.
    """

    def __init__(self, inspector: Any, journal: Journal) -> None:
        self.inspector = inspector
        self.journal = journal
        self.queue = inspector.huey.name
        self._utc = bool(getattr(inspector.huey, "utc", True))
        self._lock = threading.Lock()
        self._cursor = journal.last_id()  # counters start now, as a process's do
        self._enqueued: OrderedDict[str, float] = OrderedDict()
        self._lag: float | None = None
        self.last_fault: str | None = None  # the storage fault the last scrape met
        own = CollectorRegistry(auto_describe=True)  # holds the folded figures only
        labels = ("queue", "task")
        self.finished = Counter(
            f"{PREFIX}_tasks_finished",
            "Tasks that ended, by final state and task name (since the exporter started).",
            (*labels, "state"),
            registry=own,
        )
        self.interrupted = Counter(
            f"{PREFIX}_tasks_interrupted",
            "Tasks journalled interrupted: their consumer stopped or died while they ran.",
            labels,
            registry=own,
        )
        self.duration = Histogram(
            f"{PREFIX}_task_duration_seconds",
            "How long tasks ran, from start to their end, by task name.",
            labels,
            buckets=DURATION_BUCKETS,
            registry=own,
        )
        self.wait = Histogram(
            f"{PREFIX}_queue_wait_seconds",
            "How long tasks waited from being enqueued (or due) until a worker started them.",
            labels,
            buckets=WAIT_BUCKETS,
            registry=own,
        )
        self._own = own

    # -- folding events ----------------------------------------------------------------
    def catch_up(self) -> int:
        """Fold in every event that arrived since the last call; the number folded."""
        with self._lock:
            folded = 0
            while True:
                events = self.journal.tail(self._cursor, TAIL_BATCH)
                if not events:
                    return folded
                self._fold(events)
                self._cursor = events[-1].cursor
                self._lag = max(0.0, time.time() - events[-1].ts)
                folded += len(events)
                if len(events) < TAIL_BATCH:
                    return folded

    def follow(
        self,
        stop: threading.Event,
        say: Callable[[str], None] = print,
        every_s: float = FOLLOW_EVERY_S,
    ) -> None:
        """Fold new events every ``every_s`` until ``stop`` is set (a scrape then reads
        little, and the lag says how late events reached the journal, not how seldom
        Prometheus asks).  Storage faults are waited out: ``say`` gets one sentence when
        one starts and one when storage answers again; scrapes report ``up`` 0 meanwhile."""
        fault: str | None = None
        while not stop.wait(every_s):
            try:
                self.catch_up()
            except Exception as exc:
                now = storage_fault(exc)
                if now is None:
                    raise
                if fault is None:
                    say(now)
                fault = now
                continue
            if fault is not None:
                say("Storage answers again; the figures are up to date.")
                fault = None

    def _fold(self, events: list[Event]) -> None:
        started = [e for e in events if e.kind == EXECUTING]
        unknown = [e.task_id for e in started if e.task_id not in self._enqueued]
        known = self.journal.enqueue_times(unknown) if unknown else {}
        for e in events:
            name = e.task_name or "unknown"
            if e.kind == ENQUEUED and e.task_id:
                self._remember_enqueue(e.task_id, e.ts)
            elif e.kind == EXECUTING:
                since = self._enqueued.pop(e.task_id, None) or known.get(e.task_id)
                if since is not None:
                    due = _eta(e.data.get("eta"), self._utc)
                    waited = e.ts - max(since, due or since)
                    self.wait.labels(self.queue, name).observe(max(waited, 0.0))
            elif e.kind in FINAL_STATES and not (e.kind == ERROR and e.data.get("retries")):
                # (an error with retries left is one attempt: the task runs again)
                self.finished.labels(self.queue, name, label(e.kind)).inc()
                if e.kind == INTERRUPTED:
                    self.interrupted.labels(self.queue, name).inc()
                duration = e.data.get("duration")
                if isinstance(duration, int | float):
                    self.duration.labels(self.queue, name).observe(duration)

    def _remember_enqueue(self, task_id: str, ts: float) -> None:
        self._enqueued[task_id] = ts
        if len(self._enqueued) > REMEMBERED_ENQUEUES:
            self._enqueued.popitem(last=False)  # the journal still knows it

    # -- the Collector interface ---------------------------------------------------------
    def describe(self) -> Iterable[Any]:
        return ()  # figures are made at each collection; nothing to check in advance

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            f"{PREFIX}_up",
            "1 when the queue's storage and journal answered this scrape, else 0.",
            labels=("queue",),
        )
        try:
            self.catch_up()
            figures = self._storage_figures()
        except Exception as exc:  # a storage fault: say so, keep serving
            if storage_fault(exc) is None:
                raise
            self.last_fault = storage_fault(exc)
            up.add_metric((self.queue,), 0)
            yield up
            yield from self._own.collect()
            return
        self.last_fault = None
        up.add_metric((self.queue,), 1)
        yield up
        yield from self._own.collect()
        yield from figures

    def _storage_figures(self) -> list[Any]:
        """The figures read from storage now (all read before any is given out)."""
        counts = self.inspector.counts()
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth",
            "Tasks waiting in storage: pending in the queue, scheduled for later.",
            labels=("queue", "where"),
        )
        depth.add_metric((self.queue, "pending"), counts["pending"])
        depth.add_metric((self.queue, "scheduled"), counts["scheduled"])
        states = GaugeMetricFamily(
            f"{PREFIX}_tasks",
            "Tasks the journal knows, by their state now (all history the journal keeps).",
            labels=("queue", "state"),
        )
        for state, n in sorted(self.journal.state_counts().items()):
            states.add_metric((self.queue, label(state)), n)
        workers = GaugeMetricFamily(
            f"{PREFIX}_workers",
            "Workers by state (idle, busy, dead, stopped) and host.",
            labels=("queue", "host", "state"),
        )
        tally: dict[tuple[str, str], int] = {}
        for w in self.inspector.workers():
            key = (str(w.get("host") or ""), str(w["state"]))
            tally[key] = tally.get(key, 0) + 1
        for (host, state), n in sorted(tally.items()):
            workers.add_metric((self.queue, host, state), n)
        lag = GaugeMetricFamily(
            f"{PREFIX}_journal_lag_seconds",
            "Age of the newest event when the exporter read it: how far behind the "
            "consumers it reads (NaN before the first event).",
            labels=("queue",),
        )
        lag.add_metric((self.queue,), float("nan") if self._lag is None else self._lag)
        return [depth, states, workers, lag]


def storage_fault(exc: BaseException) -> str | None:
    """One sentence for a storage fault a scrape can wait out, or None for a defect."""
    fault = connection_fault(exc)
    if fault is not None:
        return fault
    explained = explain(exc, "being watched")
    return None if explained is None else str(explained)


def _eta(value: Any, utc: bool = True) -> float | None:
    """A task's due time from its event (ISO text, as the recorder writes it): naive, in
    UTC when Huey runs with ``utc=True`` (its default), else in local time."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None and utc:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class MetricsServer:
    """``/metrics`` served over HTTP from daemon threads, with the events followed."""

    def __init__(
        self,
        inspector: Any,
        journal: Journal,
        port: int,
        bind: str = "127.0.0.1",
        say: Callable[[str], None] = print,
    ) -> None:
        self.metrics = JournalMetrics(inspector, journal)
        own = CollectorRegistry(auto_describe=False)  # this queue's figures only
        own.register(self.metrics)
        try:
            self._server, _thread = start_http_server(port, addr=bind, registry=own)
        except OSError as exc:
            raise UserError(
                f"Cannot serve metrics on {bind} port {port} ({exc.strerror or exc}); "
                "another program may listen there: choose another port (--port)."
            ) from None
        self.port: int = self._server.server_address[1]
        self._stop = threading.Event()
        self._follower = threading.Thread(
            target=self.metrics.follow, args=(self._stop, say), name="metrics-follow", daemon=True
        )
        self._follower.start()

    def close(self) -> None:
        """Stop serving and following; returns once both have stopped."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._follower.join(timeout=5)
