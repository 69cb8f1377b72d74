"""The monitor: tails the journal and polls counts off the GUI thread, emits Qt signals.

It lives in its own ``QThread``; every storage read happens there.  The GUI thread only
receives plain dicts and lists through queued signals and applies them to the models.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
from huey import Huey
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop_app.core.alerts import AlertWatch, FactReader, Rules, load_rules
from desktop_app.core.errors import UserError
from desktop_app.core.history import SCAN_BOUND, TEXT_COLUMNS, History, TaskQuery, Window
from desktop_app.core.inflight import recover
from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import Journal, SqliteJournal
from desktop_app.core.mirror import JournalMirror
from desktop_app.core.search_index import SearchIndex, index_path
from desktop_app.core.storage_errors import explain
from desktop_app.gui.indexer import Indexer
from desktop_app.gui.queue_table import QueueModel
from desktop_app.gui.windowed_model import BLOCK

logger = logging.getLogger("huey_desk.monitor")

TICK_MS = 25  # how often new journal events are looked for (one primary-key query)
STATUS_EVERY_S = 1.0  # workers and counts when nothing happens; the queue's size and page
READER_CACHE_MB = 8  # per connection: the monitor's, and the one that counts filter matches
RECOVER_EVERY_S = 1.0  # how often tasks left by a dead consumer are looked for
# How often tasks a consumer without our hooks finished are looked for (a bounded batch).
RECONCILE_EVERY_S = 5.0
LIVE_STATUS_S = 0.1  # workers and counts while events arrive, at most this often
QUEUE_SCAN = 20_000  # queued tasks a queue filter looks through (each is decoded)
QUEUE_REFRESH_S = 5.0  # how often a filtered queue view is looked through again
TAIL_BATCH = 5000
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.25, 8.0  # pauses after a storage fault, doubling
# Events of a shared journal copied per tick (about 60 ms from Redis: benchmarks.mirror)
MIRROR_BATCH = 4000
# What the tasks table needs of a summary row; the details view reads the rest by id.
HEAVY_COLUMNS = ("args", "kwargs", "traceback")
PREVIEW_CHARS = 500


def slim(row: dict[str, Any]) -> dict[str, Any]:
    """A task summary without what only the details view shows."""
    out = {k: v for k, v in row.items() if k not in HEAVY_COLUMNS}
    error = out.get("error")
    if error and len(error) > PREVIEW_CHARS:
        out["error"] = error[:PREVIEW_CHARS] + "…"
    return out


class Monitor(QObject):
    """Reads the queue and the journal and reports what changed, as Qt signals."""

    # Signal(object): the Python rows go across threads as they are, not converted to
    # QVariant lists and maps and back.
    events_arrived = Signal(object)  # new journal events: list of dicts
    tasks_changed = Signal(object)  # summary rows of the tasks those events touched
    status_changed = Signal(object)  # Inspector.status(), plus the busy workers' progress
    # the queue table's window: {"generation", "total", "rows", "capped"} when opened,
    # {"generation", "total", "capped"} when the queue changed size, and
    # {"generation", "anchor", "block", "rows"} for each block asked for or re-read
    queue_opened = Signal(object)
    queue_resized = Signal(object)
    queue_block = Signal(object)
    # the tasks table's windows: {"generation", "anchor", "total", "rows", "looked"}
    # (looked: None, or a bounded first look's (newest tasks covered, tasks), followed by
    # the whole answer as a second history_opened), then {"generation", "total"} once a
    # scan has counted, and {"generation", "anchor", "block", "rows"} for each block
    # asked for
    history_opened = Signal(object)
    history_counted = Signal(object)
    history_block = Signal(object)
    failed = Signal(str)  # a plain sentence: what cannot be read, and what to do
    ready = Signal()  # started: windows on the history and the queue can be opened
    recovered = Signal(object)  # RecoveryReport.as_dict(): tasks a dead consumer left
    # the local copy of a shared journal: {"events": copied so far, "done": bool}
    syncing = Signal(object)
    alerts_changed = Signal(object)  # {"changes": [...], "active": [...]}: Alert.as_dict()

    def __init__(
        self, huey: Huey, journal_path: str, target: str = "", shared: Journal | None = None
    ) -> None:
        """``journal_path``: the SQLite journal tailed and queried here; ``shared``: the
        journal consumers write (Redis), copied into that file on every tick (None: the
        file is the journal itself)."""
        super().__init__()
        self.huey = huey
        self.journal_path = journal_path
        self.target = target
        self._shared_given = shared
        self._shared: Journal | None = None  # what status, recovery and actions read
        self._mirror: JournalMirror | None = None
        self._journal: SqliteJournal | None = None
        self._inspector: Inspector | None = None
        self._cursor = 0
        self._next_status = 0.0
        self._next_live = 0.0
        self._next_queue = 0.0
        self._queue_counts: dict[str, int] | None = None
        self._timer: QTimer | None = None
        self._last_error: str | None = None
        self._process: psutil.Process | None = None
        self._history: History | None = None
        self._history_journal: SqliteJournal | None = None
        self._queries: dict[int, TaskQuery] = {}
        self._counter: ThreadPoolExecutor | None = None
        self._indexer: Indexer | None = None
        self.rerun_interrupted = True  # set from the GUI thread; read here (a bool)
        self._next_recovery = 0.0
        self._next_reconcile = 0.0
        self._backoff = 0.0
        self._resume_at = 0.0
        self._catching_up = True  # until the first sync of a shared journal's copy
        self._copied = 0
        self._restarted = ""  # why the copy started again, once it has caught up
        self._queue_generation = 0
        self._queue_text = ""
        self._queue_blocks: list[int] = []  # recently asked for, most recent last
        self._queue_sizes: tuple[int, int] = (-1, -1)
        self._queue_matches: list[dict[str, Any]] | None = None
        self._queue_capped = False
        self._queue_scanned = 0.0
        self._events_since_queue = False
        # alert rules: set from the GUI thread (one object, swapped whole), read here
        self.alert_rules: Rules = load_rules()
        self._alerts = AlertWatch(self.alert_rules)
        self._facts: FactReader | None = None
        self._next_alerts = 0.0

    @Slot()
    def start(self) -> None:
        """Open the journal in this (the monitor's) thread and start ticking."""
        try:
            self._journal = SqliteJournal(self.journal_path, cache_mb=READER_CACHE_MB)
        except UserError as exc:
            self.failed.emit(str(exc))
            return
        self._shared = self._shared_given or self._journal
        if self._shared_given is not None:
            self._mirror = JournalMirror(self._shared_given, self._journal)
        self._inspector = Inspector(self.huey, self._shared, self.target)
        self._facts = FactReader(self._inspector)
        self._cursor = self._journal.last_id()
        self._indexer = Indexer(self.journal_path, self._cursor)
        self._indexer.start()
        # The history reads through connections of its own (they attach the search
        # index), apart from the monitor's, which writes a Redis journal's local copy:
        # measured on Redis, event to screen p50 52 to 64 ms instead of 90 to 111 ms
        # (docs/PERFORMANCE.md); why the attach slowed the copy is not known.
        self._history_journal = SqliteJournal(self.journal_path, cache_mb=READER_CACHE_MB)
        self._history = History(self._history_journal, index_path(self.journal_path))
        self._timer = QTimer(self)
        self._timer.setObjectName("monitor-tick")
        self._timer.timeout.connect(self._tick)
        self._timer.start(TICK_MS)
        self.ready.emit()
        self._tick()

    @Slot()
    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self._counter is not None:
            self._counter.shutdown(wait=True, cancel_futures=True)
        if self._indexer is not None:
            self._indexer.stop()
        if self._history_journal is not None:
            self._history_journal.close()
        if self._journal is not None:
            self._journal.close()
        self.huey.storage.close()

    # -- the tasks table's windows -----------------------------------------------------
    @Slot(object)
    def open_history(self, request: dict[str, Any]) -> None:
        """Open a window on the task history: ``{"generation", "query"}``."""
        if self._history is None:
            return
        generation, query = request["generation"], request["query"]
        try:
            # free text first looks at the newest tasks only (a lookup where the search
            # index has covered them): rows at once, the whole answer from the scan after
            window = self._history.open(query, BLOCK, bound=SCAN_BOUND)
        except UserError as exc:
            self._report(str(exc))
            return
        except Exception as exc:
            logger.exception("opening the history failed")
            self._report(f"Reading the task history failed ({type(exc).__name__}: {exc}).")
            return
        self._queries = {generation: query}
        self._emit_window(generation, window)
        if window.partial or window.total is None:
            # A scan of every task: off this thread, so live updates go on.
            if self._counter is None:
                self._counter = ThreadPoolExecutor(1, thread_name_prefix="huey-desk-count")
            self._counter.submit(self._finish, generation, query, window)

    def _emit_window(self, generation: int, window: Window) -> None:
        self.history_opened.emit(
            {
                "generation": generation,
                "anchor": window.anchor,
                "total": window.total,
                "rows": [slim(r) for r in window.first],
                # a bounded first look: how many of the newest tasks it covers, of how many
                "looked": (window.looked_at, window.tasks) if window.partial else None,
            }
        )

    def _finish(self, generation: int, query: TaskQuery, window: Window) -> None:
        """The rest of a free-text query, on the counter's thread: the whole first page
        when the first look was bounded, then the count."""
        assert self._history is not None
        try:
            if window.partial:
                if generation not in self._queries:
                    return  # another query was opened meanwhile
                window = self._history.open(query, BLOCK)
                self._emit_window(generation, window)
            if window.total is None:
                total = self._history.count(query, window.anchor)
                self.history_counted.emit(
                    {"generation": generation, "anchor": window.anchor, "total": total}
                )
        except Exception:
            logger.exception("searching the history failed")

    @Slot(object)
    def load_history(self, request: dict[str, Any]) -> None:
        """Read the blocks a view asked for: ``{"generation", "anchor", "blocks",
        "total"}``."""
        query = self._queries.get(request["generation"])
        if query is None or self._history is None:
            return
        for block in request["blocks"]:
            try:
                rows = self._history.page(
                    query, request["anchor"], block * BLOCK, BLOCK, request["total"]
                )
            except Exception as exc:
                logger.exception("reading the history failed")
                self._report(f"Reading the task history failed ({type(exc).__name__}: {exc}).")
                return
            self.history_block.emit(
                {
                    "generation": request["generation"],
                    "anchor": request["anchor"],
                    "block": block,
                    "rows": [slim(r) for r in rows],
                }
            )

    @Slot(int)
    def watch_process(self, pid: int) -> None:
        """Report CPU, memory and uptime of this consumer process (0: none)."""
        self._process = None
        if pid:
            try:
                self._process = psutil.Process(pid)
                self._process.cpu_percent()  # the first call only starts the measurement
            except psutil.Error:
                self._process = None

    def _process_stats(self) -> dict[str, Any] | None:
        proc = self._process
        if proc is None:
            return None
        try:
            with proc.oneshot():
                family = [proc, *proc.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in family)
                return {
                    "pid": proc.pid,
                    "cpu_percent": proc.cpu_percent(),
                    "rss_mb": rss / 1e6,
                    "uptime_s": time.time() - proc.create_time(),
                }
        except psutil.Error:
            return None

    @Slot()
    def refresh(self) -> None:
        """Read counts, workers and the queue now (after an action by the user)."""
        self._next_status = self._next_queue = 0.0

    def _sync_mirror(self) -> None:
        """Copy what is new in the shared journal; a long first copy goes a batch per
        tick, its events folded into the views by re-opening them, not one by one."""
        if self._mirror is None:
            return
        assert self._journal is not None
        report = self._mirror.sync(MIRROR_BATCH)
        if report.reset:
            self._restart_copy()
            return
        if report.caught_up and not self._catching_up:
            return
        if not report.caught_up:
            self._catching_up = True
            self._copied += report.events
            self._cursor = self._journal.last_id()  # not streamed: re-read when done
            self._index_copied(report.task_ids)
            self.syncing.emit({"events": self._copied, "done": False})
            return
        self._catching_up = False
        self._cursor = self._journal.last_id()
        self._index_copied(report.task_ids)
        self.syncing.emit({"events": self._copied + report.events, "done": True})
        self.ready.emit()  # the history views are read again, now complete
        if self._restarted:
            self._report(self._restarted)
            self._restarted = ""

    def _index_copied(self, task_ids: list[str]) -> None:
        """Tasks copied without being streamed: indexed again like streamed ones, so that
        the search index keeps up with the copy's events (a text filter otherwise looks
        at every task changed since the index's last event: all of a first copy)."""
        if self._indexer is not None and task_ids:
            self._indexer.touched(self._journal.tasks_by_ids(task_ids), self._cursor)

    def _restart_copy(self) -> None:
        """The shared journal was emptied and the copy with it: the search index starts
        again (the copy's task rowids do), the views are read again, now empty, and the
        copy fills from the new journal a batch per tick, as a first copy does."""
        assert self._journal is not None and self._mirror is not None
        if self._indexer is not None:
            self._indexer.stop()
        self._cursor = self._journal.last_id()
        index = SearchIndex(self._journal, TEXT_COLUMNS)
        try:
            index.catch_up(self._cursor)  # the copy is empty: this empties the index
        finally:
            index.close()
        self._indexer = Indexer(self.journal_path, self._cursor)
        self._indexer.start()
        self._catching_up, self._copied = True, 0
        self._restarted = (  # said once the copy has caught up, after "up to date"
            f"The shared journal ({self._mirror.key}) was emptied (Redis flushed, or "
            "restarted without saving): this window's history started again from it."
        )
        self.ready.emit()

    def _tick(self) -> None:
        assert self._journal is not None and self._inspector is not None
        if time.monotonic() < self._resume_at:
            return  # backing off after a storage fault (Redis down, say)
        try:
            self._sync_mirror()
            events = self._journal.tail(self._cursor, TAIL_BATCH)
            if events:
                self._events_since_queue = True
                self._cursor = events[-1].id
                self.events_arrived.emit([e.as_dict() for e in events])
                self._alerts.events(events)
                touched = {e.task_id for e in events if e.task_id}
                if touched:
                    rows = self._journal.tasks_by_ids(sorted(touched))
                    self.tasks_changed.emit([slim(r) for r in rows])
                    if self._indexer is not None:
                        self._indexer.touched(rows, self._cursor)
            now = time.monotonic()
            if now >= self._next_status or (events and now >= self._next_live):
                # Workers change with events: shown within LIVE_STATUS_S.  Counting a big
                # queue costs tens of milliseconds: once a second is enough.
                self._next_status = now + STATUS_EVERY_S
                self._next_live = now + LIVE_STATUS_S
                queue_due = now >= self._next_queue or self._queue_counts is None
                if queue_due:
                    self._next_queue = now + STATUS_EVERY_S
                    self._queue_counts = self._inspector.counts()
                self._emit_status(queue_due)
            if now >= self._next_recovery:
                self._next_recovery = now + RECOVER_EVERY_S
                self._recover()
            if now >= self._next_reconcile:
                # their complete / error events arrive through the tail on the next tick
                self._next_reconcile = now + RECONCILE_EVERY_S
                self._inspector.reconcile()
            self._last_error = None
            self._backoff = 0.0
        except UserError as exc:
            self._report(str(exc))
            self._back_off()
        except Exception as exc:  # the window must stay up whatever storage does
            explained = explain(exc, self._inspector.location)
            if explained is None:
                logger.exception("monitor tick failed")
                self._report(f"Reading the queue failed ({type(exc).__name__}: {exc}).")
            else:
                self._report(f"{explained} Trying again by itself.")
            self._back_off()

    def _back_off(self) -> None:
        """Look again after a pause that doubles (up to BACKOFF_MAX_S) while faults last;
        a storage that is back is read at the next tick after the pause."""
        self._backoff = min(max(self._backoff * 2, BACKOFF_MIN_S), BACKOFF_MAX_S)
        self._resume_at = time.monotonic() + self._backoff

    def _recover(self) -> None:
        """Find the tasks a dead consumer (or worker) left, record them as interrupted,
        and re-run those that declared retries when the setting says so."""
        assert self._shared is not None
        report = recover(self.huey, self._shared, rerun=self.rerun_interrupted)
        if report:
            self.recovered.emit(report.as_dict())
            self._next_status = 0.0

    def _emit_status(self, queue_due: bool = True) -> None:
        assert self._journal is not None and self._inspector is not None
        status = self._inspector.status(self._queue_counts)
        busy = [w["task_id"] for w in status["workers"] if w["task_id"]]
        progress = {t["task_id"]: t for t in self._journal.tasks_by_ids(busy)} if busy else {}
        for w in status["workers"]:
            task = progress.get(w["task_id"])
            w["progress"] = task["progress"] if task else None
            w["progress_message"] = task["progress_message"] if task else None
            w["started_at"] = task["started_at"] if task else None
        status["process"] = self._process_stats()
        self.status_changed.emit(status)
        self._check_alerts(status)
        if queue_due:
            self._refresh_queue(status["pending"], status["scheduled"])

    def _check_alerts(self, status: dict[str, Any]) -> None:
        """The alert rules over this status, once a second: what fired or cleared, and
        the alerts still on (their text follows the figures)."""
        now = time.monotonic()
        if now < self._next_alerts or self._facts is None:
            return
        self._next_alerts = now + STATUS_EVERY_S
        if self._alerts.rules is not self.alert_rules:
            self._alerts.set_rules(self.alert_rules)
        changes = self._alerts.check(self._facts.read(status))
        if changes or self._alerts.active:
            self.alerts_changed.emit(
                {
                    "changes": [a.as_dict() for a in changes],
                    "active": [a.as_dict() for a in self._alerts.active.values()],
                }
            )

    # -- the queue table's window ------------------------------------------------------
    @Slot(object)
    def open_queue(self, request: dict[str, Any]) -> None:
        """Open a window on the queue: ``{"generation", "text"}``."""
        if self._inspector is None:
            return
        self._queue_generation = request["generation"]
        self._queue_text = request["text"].strip().lower()
        self._queue_blocks = [0]
        try:
            counts = self._inspector.counts()
            self._queue_sizes = (counts["pending"], counts["scheduled"])
            if self._queue_text:
                self._scan_queue()
            rows = self._queue_rows(0, BLOCK)
        except UserError as exc:
            self._report(str(exc))
            return
        self.queue_opened.emit(
            {
                "generation": self._queue_generation,
                "total": self._queue_total(),
                "rows": rows,
                "capped": self._queue_capped,
            }
        )

    @Slot(object)
    def load_queue(self, request: dict[str, Any]) -> None:
        """Read the queue blocks a view asked for."""
        if request["generation"] != self._queue_generation:
            return
        for block in request["blocks"]:
            if block in self._queue_blocks:
                self._queue_blocks.remove(block)
            self._queue_blocks.append(block)
            try:
                rows = self._queue_rows(block * BLOCK, BLOCK)
            except UserError as exc:
                self._report(str(exc))
                return
            self.queue_block.emit(
                {"generation": self._queue_generation, "anchor": 0, "block": block, "rows": rows}
            )
        del self._queue_blocks[: -QueueModel.max_blocks]

    def _refresh_queue(self, pending: int, scheduled: int) -> None:
        """The queue may have changed: read the blocks in view again, and the size."""
        if not self._queue_generation:
            return
        changed = (pending, scheduled) != self._queue_sizes
        self._queue_sizes = (pending, scheduled)
        if self._queue_text:
            if time.monotonic() - self._queue_scanned < QUEUE_REFRESH_S:
                return
            self._scan_queue()
        self.queue_resized.emit(
            {
                "generation": self._queue_generation,
                "total": self._queue_total(),
                "capped": self._queue_capped,
            }
        )
        if changed or self._queue_text or self._events_since_queue:
            self.load_queue(
                {"generation": self._queue_generation, "blocks": list(self._queue_blocks)}
            )
        self._events_since_queue = False

    def _queue_total(self) -> int:
        if self._queue_matches is not None and self._queue_text:
            return len(self._queue_matches)
        return sum(self._queue_sizes)

    def _queue_rows(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """Rows ``offset``.. of the queue view: pending (a delayed one, waiting in the
        queue for its time, is shown scheduled: one word for "has a time to run at"),
        then the schedule."""
        assert self._inspector is not None
        if self._queue_text:
            rows = [dict(r) for r in (self._queue_matches or [])[offset : offset + limit]]
        else:
            rows = self._queue_page(offset, limit)
        revoked = self._inspector.revoked([r["id"] for r in rows if r.get("id")])
        for row in rows:
            row["revoked"] = row.get("id") in revoked
        return rows

    def _queue_page(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """Rows ``offset``.. of the whole queue, read from storage."""
        assert self._inspector is not None
        pending = self._queue_sizes[0]
        rows: list[dict[str, Any]] = []
        if offset < pending:
            rows = [  # a message with an ETA waits in the queue until a worker schedules it
                t.as_dict() | {"state": "scheduled" if t.eta else "pending"}
                for t in self._inspector.pending(offset, min(limit, pending - offset))
            ]
        if len(rows) < limit:
            start = max(offset - pending, 0)
            rows += [
                t.as_dict() | {"state": "scheduled"}
                for t in self._inspector.scheduled(start, limit - len(rows))
            ]
        return rows

    def _scan_queue(self) -> None:
        """Look through the first ``QUEUE_SCAN`` queued tasks for the filter text."""
        assert self._inspector is not None
        self._queue_scanned = time.monotonic()
        text = self._queue_text
        matches: list[dict[str, Any]] = []
        seen = 0
        for source, scheduled in (
            (self._inspector.pending, False),
            (self._inspector.scheduled, True),
        ):
            offset = 0
            while seen < QUEUE_SCAN:
                page = source(offset, min(1000, QUEUE_SCAN - seen))
                if not page:
                    break
                offset += len(page)
                seen += len(page)
                for t in page:
                    row = t.as_dict()
                    haystack = f"{row.get('id')} {row.get('task')} {row.get('args')}".lower()
                    if text in haystack:
                        kind = "scheduled" if scheduled or t.eta else "pending"
                        matches.append(row | {"state": kind})
        self._queue_matches = matches
        self._queue_capped = seen >= QUEUE_SCAN and sum(self._queue_sizes) > QUEUE_SCAN

    def _report(self, message: str) -> None:
        if message != self._last_error:  # say it once, not every tick
            self._last_error = message
            self.failed.emit(message)
