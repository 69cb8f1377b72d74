"""Messages taken and not yet finished: recorded with the take, recovered after a crash.

Huey's SQLite ``dequeue`` deletes the message it returns, so a consumer killed before
its "executing" event leaves no trace of the task.  Here taking a message and recording
it in ``desk_inflight`` (beside Huey's tables, in the queue database) are one
transaction, and the row is deleted once the worker has finished with the message,
whatever the outcome.  ``recover`` finds rows, and "executing" journal tasks, whose
consumer or worker process is gone, journals them as interrupted, keeps their message in
``desk_interrupted`` and, when asked, puts it back on the queue for tasks that declared
retries.  ``SqliteStorage`` and the Redis storages (``backends/redis/inflight.py``) get
the guarantee; other storages dequeue as before and are recovered from the journal alone.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from huey import Huey
from huey import signals as S
from huey.exceptions import HueyException
from huey.storage import SqliteStorage

from desktop_app.core import jsonsafe
from desktop_app.core.backends import inflight_store
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.journal import (
    CANCELED,
    COMPLETE,
    ERROR,
    EXPIRED,
    INTERRUPTED,
    LOCKED,
    RATE_LIMITED,
    RESTORED,
    RETRYING,
    REVOKED,
    SCHEDULED,
    Journal,
    NewEvent,
)
from desktop_app.core.kept import (
    INTERRUPTED_TABLE,
    RERUN_REASON,
    ensure_tables,
    requeue,
    where,
)
from desktop_app.core.liveness import SETTLE_S, Liveness, host_name, process_alive
from desktop_app.core.recorder import current_worker_name
from desktop_app.core.safe_decode import MessageView, decode_message
from desktop_app.core.storage_errors import guarded

logger = logging.getLogger("huey_desk.inflight")

# States after which a taken message needs nothing more: it ran, or Huey put it where it
# belongs (the schedule, the queue again for a retry) or dropped it on purpose.
DEALT_WITH = frozenset(
    (COMPLETE, SCHEDULED, RETRYING, REVOKED, EXPIRED, CANCELED, LOCKED, RATE_LIMITED)
)

# Messages of interrupted tasks nobody re-ran are dropped after this long.
KEEP_INTERRUPTED_S = 30 * 86400


def _where(storage: SqliteStorage) -> str:
    return where(storage)


class UnrunnableMessage(Exception):
    """A taken message could not be made a task here; it was kept, not dropped.

    Raised from the worker's dequeue so that Huey logs it; the worker then looks at the
    queue again at once (the storage works: no back-off)."""


class InFlightBase:
    """What every in-flight tracker shares: the worker's side of a take.

    ``install`` replaces the storage's ``dequeue`` with the backend's ``take`` (which
    records the take atomically with it) and Huey's ``dequeue`` with ``dequeue`` (which
    keeps a message that cannot run).  The worker calls ``finish`` once Huey is done with
    the message (run, scheduled, revoked, expired, retried...) and ``abandon`` when it is
    stopped in the middle; a task that Huey reports interrupted keeps its record too, for
    ``recover`` to find.  Takes are kept per thread, so this works for thread workers and
    for forked worker processes.
    """

    # True when ``take`` itself waits for work (a blocking pop): the worker then needs
    # no wait of its own after an empty take.
    blocking = False
    # How often the consumer runs recovery with this tracker.
    recover_every_s = 2.0

    def __init__(
        self,
        huey: Huey,
        consumer_id: str,
        worker_type: str = "thread",
        *,
        target: str | None = None,
        report: Callable[[NewEvent], None] | None = None,
    ) -> None:
        """``target`` names the attached instance in sentences; ``report`` journals an
        event from a worker (the consumer's recorder)."""
        self.huey = huey
        self.storage: Any = huey.storage
        self.consumer_id = consumer_id
        self.worker_type = worker_type
        self.target = target or f"the Huey instance {huey.name!r}"
        self.report = report
        self._local = threading.local()
        self._lock = threading.Lock()
        self._rows_by_task: dict[str, Any] = {}
        self._kept: set[Any] = set()

    def install(self) -> None:
        self._prepare()
        self.storage.dequeue = self.take  # type: ignore[method-assign]
        self.huey.dequeue = self.dequeue  # type: ignore[method-assign]
        self.huey._signal.connect(self._on_signal, S.SIGNAL_EXECUTING, S.SIGNAL_INTERRUPTED)

    def uninstall(self) -> None:
        self.storage.__dict__.pop("dequeue", None)
        self.huey.__dict__.pop("dequeue", None)
        self.huey._signal.disconnect(self._on_signal, S.SIGNAL_EXECUTING, S.SIGNAL_INTERRUPTED)

    # -- the backend's part ------------------------------------------------------------
    def _prepare(self) -> None:
        """Make what the backend needs before the first take (tables, scripts)."""

    def take(self) -> bytes | None:
        """Huey's dequeue, and the record of the take, atomically."""
        raise NotImplementedError

    def release(self) -> None:
        """Drop the record of the message this worker finished, now (idle, stopping)."""
        raise NotImplementedError

    def _move_unrunnable(self, row: Any, view: MessageView, error: str, now: float) -> bool:
        """Move this take's record to the kept unrunnable messages; False if it is gone."""
        raise NotImplementedError

    def _where(self) -> str:
        return str(getattr(self.storage, "name", "the queue"))

    # -- in the worker -----------------------------------------------------------------
    def dequeue(self) -> Any:
        """``Huey.dequeue`` (take the message, make it a task), keeping what cannot run.

        Stock Huey drops a message whose task is not registered in this process (or that
        cannot be decoded): the worker logs the error and the task is gone.  Here the
        message moves from its in-flight record to the kept unrunnable messages at once,
        an "error" event says what to attach to instead, and ``Dispatcher.retry`` can put
        it back on the queue once the right target is attached.
        """
        data = self.storage.dequeue()
        if data is None:
            return None
        try:
            return self.huey.deserialize_task(data)
        except Exception as exc:
            raise UnrunnableMessage(self._keep_unrunnable(data, exc)) from exc

    def _explain(self, view: MessageView, exc: Exception) -> str:
        if isinstance(exc, HueyException) and "not found in TaskRegistry" in str(exc):
            name = view.name or str(exc).replace(" not found in TaskRegistry", "")
            module = name.rpartition(".")[0] or name
            return (
                f"Task {name!r} is not registered in {self.target}; attach the consumer to "
                f"the module that imports it (--huey {module}:huey, with --path DIR if it is "
                "not importable from here)"
            )
        what = f"message of task {view.id}" if view.id else "queued message"
        return (
            f"The {what} cannot be decoded by this consumer ({type(exc).__name__}: {exc}); "
            f"it is kept: make {self.target} able to load it (a module or class it needs "
            "may be gone), then retry it"
        )

    def _keep_unrunnable(self, data: bytes, exc: Exception) -> str:
        """Move this thread's fresh take to the kept unrunnable messages; journal why."""
        view = decode_message(self.huey.serializer, data)
        error = self._explain(view, exc)
        row = getattr(self._local, "row", None)
        self._local.row = self._local.task_id = None  # never released as "done"
        now = time.time()
        kept = False
        if row is not None:
            try:
                kept = self._move_unrunnable(row, view, error, now)
            except Exception:
                # its in-flight record stays: recovery keeps it once this consumer is gone
                logger.exception("Could not keep the message of task %s", view.id)
        logger.error("%s.", error)
        if self.report is not None:
            data_out: dict[str, Any] = {"error": error, "kept": kept}
            if view.id and (view.args or view.kwargs):
                args = view.args if isinstance(view.args, (list, tuple)) else (view.args,)
                kwargs = view.kwargs if isinstance(view.kwargs, dict) else {}
                data_out["args_preview"] = jsonsafe.args_preview(args, kwargs)
            self.report(
                NewEvent(
                    kind=ERROR,
                    task_id=view.id,
                    task_name=view.name,
                    ts=now,
                    pid=os.getpid(),
                    worker=current_worker_name(self.worker_type),
                    consumer=self.consumer_id,
                    data=data_out,
                )
            )
        return error

    def _on_signal(self, signal: str, task: Any, *args: Any) -> None:
        if signal == S.SIGNAL_EXECUTING:
            row = getattr(self._local, "row", None)
            if row is not None:
                self._local.task_id = task.id
                with self._lock:
                    self._rows_by_task[task.id] = row
        else:  # interrupted: fired in the worker, or for all running tasks by the consumer
            with self._lock:
                row = self._rows_by_task.get(task.id)
                if row is not None:
                    self._kept.add(row)

    def _forget(self) -> tuple[Any, bool]:
        """This thread's row, now forgotten here, and whether it must stay in the table."""
        row = getattr(self._local, "row", None)
        task_id = getattr(self._local, "task_id", None)
        self._local.row = self._local.task_id = None
        if row is None:
            return None, False
        with self._lock:
            if task_id is not None and self._rows_by_task.get(task_id) == row:
                del self._rows_by_task[task_id]
            kept = row in self._kept
            self._kept.discard(row)
        return row, kept

    def finish(self) -> None:
        """The worker is done with the message it took: its row goes with the next take,
        or at once if there is none (unless the task was interrupted, which leaves the
        row for ``recover``)."""
        row, kept = self._forget()
        if row is not None and not kept:
            self._local.done = row

    def abandon(self) -> None:
        """The worker stops in the middle of a task: its row stays, for ``recover``."""
        self._forget()


class InFlight(InFlightBase):
    """The SQLite tracker: takes a message and records it in ``desk_inflight`` in one
    transaction (each worker process opens its own connection, as Huey's storage does)."""

    def __init__(self, huey: Huey, consumer_id: str, worker_type: str = "thread", **kw: Any):
        if not isinstance(huey.storage, SqliteStorage):
            raise TypeError("in-flight tracking needs a SqliteStorage")
        super().__init__(huey, consumer_id, worker_type, **kw)

    def _prepare(self) -> None:
        ensure_tables(self.storage)

    def _where(self) -> str:
        return _where(self.storage)

    # -- in the worker -----------------------------------------------------------------
    def take(self) -> bytes | None:
        """Huey's dequeue, plus the in-flight row, in one transaction.

        The row of the message this worker finished last is deleted in the same
        transaction: one commit per task instead of two (the release alone cost a
        quarter of the throughput of no-op tasks).
        """
        storage = self.storage
        done = getattr(self._local, "done", None)
        # a read without the write lock first, as Huey does: idle workers stay cheap
        if not storage.sql(
            "SELECT 1 FROM task WHERE queue = ? LIMIT 1", (storage.name,), results=True
        ):
            self.release()  # nothing to take: release now, before the worker waits
            return None
        worker = current_worker_name(self.worker_type)
        taken: tuple[bytes, int] | None = None
        with storage.db(commit=True) as cursor:  # rolled back whole if anything fails
            if done is not None:
                cursor.execute("DELETE FROM desk_inflight WHERE id = ?", (done,))
            cursor.execute(
                "SELECT id, data, priority FROM task WHERE queue = ? "
                "ORDER BY priority DESC, id LIMIT 1",
                (storage.name,),
            )
            row = cursor.fetchone()
            if row is not None:
                cursor.execute("DELETE FROM task WHERE id = ?", (row[0],))
                if cursor.rowcount == 1:
                    cursor.execute(
                        "INSERT INTO desk_inflight (queue, data, priority, consumer, worker, "
                        "pid, taken_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            storage.name,
                            row[1],
                            row[2] or 0,
                            self.consumer_id,
                            worker,
                            os.getpid(),
                            time.time(),
                        ),
                    )
                    taken = (row[1], cursor.lastrowid)
        self._local.done = None
        if taken is None:
            return None
        self._local.row, self._local.task_id = taken[1], None
        return taken[0]

    def _move_unrunnable(self, row: Any, view: MessageView, error: str, now: float) -> bool:
        storage = self.storage

        def move() -> bool:
            with storage.db(commit=True) as cursor:
                cursor.execute(
                    "INSERT INTO desk_unrunnable (queue, task_id, task_name, data, priority, "
                    "consumer, worker, error, kept_at) SELECT queue, ?, ?, data, priority, "
                    "consumer, worker, ?, ? FROM desk_inflight WHERE id = ?",
                    (view.id, view.name, error, now, row),
                )
                if cursor.rowcount != 1:
                    return False
                cursor.execute("DELETE FROM desk_inflight WHERE id = ?", (row,))
                return True

        return guarded(move, _where(storage))

    def release(self) -> None:
        """Delete the row of the message this worker finished, now (idle, stopping)."""
        row = getattr(self._local, "done", None)
        if row is None:
            return
        storage = self.storage
        try:
            guarded(
                lambda: storage.sql("DELETE FROM desk_inflight WHERE id = ?", (row,), commit=True),
                _where(storage),
            )
            self._local.done = None
        except Exception:
            # The task ran; at worst recovery will take it for interrupted later.
            logger.exception("Could not release in-flight message %d", row)


# -- recovery ------------------------------------------------------------------------------
@dataclass
class Interrupted:
    """A task that ``recover`` found interrupted, and what it did about it."""

    task_id: str | None
    task_name: str | None
    consumer: str | None
    worker: str | None
    pid: int | None
    error: str
    started: bool
    rerun: bool = False
    kept: bool = False


@dataclass
class RecoveryReport:
    """What one ``recover`` call found and did (empty and false when nothing)."""

    interrupted: list[Interrupted] = field(default_factory=list)
    # in-flight messages of dead consumers left alone: their worker process still runs
    still_running: int = 0
    # rows of tasks that had ended (the consumer died before releasing them): dropped
    ended: int = 0

    @property
    def rerun(self) -> list[str]:
        return [t.task_id for t in self.interrupted if t.rerun and t.task_id]

    def __bool__(self) -> bool:
        return bool(self.interrupted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "interrupted": [asdict(t) for t in self.interrupted],
            "rerun": self.rerun,
            "still_running": self.still_running,
            "ended": self.ended,
        }


@dataclass(frozen=True)
class InFlightRow:
    """A message a worker took and had not finished (a row of ``desk_inflight``, an entry
    of a Redis processing list); ``id`` is what the backend's store claims it by."""

    id: Any
    data: bytes
    priority: float
    consumer: str
    worker: str | None
    pid: int | None
    taken_at: float


@dataclass(frozen=True)
class DeadRow:
    """An in-flight row whose worker is gone, why, and its message decoded safely."""

    row: InFlightRow
    reason: str
    view: MessageView


def _rows(storage: SqliteStorage) -> list[InFlightRow]:
    found = storage.sql(
        "SELECT id, data, priority, consumer, worker, pid, taken_at FROM desk_inflight "
        "WHERE queue = ?",
        (storage.name,),
        results=True,
    )
    return [InFlightRow(*r) for r in found]


class SqliteInFlightStore:
    """Recovery's view of ``desk_inflight`` and ``desk_interrupted`` in a SQLite queue."""

    def __init__(self, storage: SqliteStorage) -> None:
        self.storage = storage

    def rows(self) -> list[InFlightRow]:
        """Every in-flight row of this queue."""
        storage = self.storage
        ensure_tables(storage)
        return guarded(lambda: _rows(storage), _where(storage))

    def claim(
        self, found: list[DeadRow], ended: set[Any], now: float
    ) -> list[tuple[DeadRow, Any]]:
        """Take the rows out of flight, exactly once across callers (see ``_claim``)."""
        return _claim(self.storage, found, ended, now)

    def requeue(self, kept_id: Any) -> bool:
        """Put a kept interrupted message back on the queue, exactly once."""
        return _requeue(self.storage, kept_id)

    def kept_interrupted(self, limit: int) -> list[dict[str, Any]]:
        return _kept_interrupted(self.storage, limit)

    def count(self) -> int:
        return _inflight_count(self.storage)


def _reruns_so_far(journal: Journal, task_id: str) -> int:
    return sum(
        1 for e in journal.events_for(task_id) if e.kind == RESTORED and e.data.get("rerun")
    )


def recover(
    huey: Huey,
    journal: Journal,
    *,
    rerun: bool = False,
    host: str | None = None,
) -> RecoveryReport:
    """Journal as interrupted the tasks whose consumer or worker process is gone.

    In-flight messages (SQLite and Redis queues, through ``backends.inflight_store``) of
    a consumer that is verifiably dead are recovered at once, each exactly once even with
    several callers: their row is moved to the kept interrupted messages atomically, and
    with ``rerun`` the message of a task that declared retries is then put back on the
    queue (at most that many times after interruptions) with a "restored" event saying
    so.  "Executing" journal tasks of
    dead consumers that have no in-flight row are journalled as interrupted too.

    Cheap when there is nothing to do (one small indexed read of each database), so the
    window may call it every second from its monitor thread.
    """
    host = host or host_name()
    now = time.time()
    report = RecoveryReport()
    store = inflight_store(huey)
    rows: list[InFlightRow] = store.rows() if store is not None else []
    running = journal.running_tasks()
    if not rows and not running:
        return report
    live = Liveness(journal, host, now)
    found, handled, report.still_running = _dead_rows(huey, rows, live)
    events: list[NewEvent] = []
    requeue: list[Any] = []
    if found:
        ids = [d.view.id for d in found if d.view.id]
        records = {r["task_id"]: r for r in journal.tasks_by_ids(ids)}
        ended = {d.row.id for d in found if _ended(d.row, records.get(d.view.id or ""))}
        for dead, kept_id in store.claim(found, ended, now):
            if kept_id is None:
                report.ended += 1
                continue
            item, event = _row_event(dead, records.get(dead.view.id or ""), now)
            if event is not None:
                events.append(event)
            if rerun and _may_rerun(journal, dead.view):
                item.rerun = True
                requeue.append(kept_id)
                events.append(_rerun_event(item, now))
            else:
                item.kept = True
            report.interrupted.append(item)
    for task in running:
        if task["task_id"] in handled:
            continue
        reason = live.consumer_gone(task["consumer"])
        if reason is None:
            continue
        item = Interrupted(
            task["task_id"],
            task["task_name"],
            task["consumer"],
            task["worker"],
            task["pid"],
            f"interrupted: {reason} while {task['worker']} (pid {task['pid']}) ran it",
            started=True,
        )
        events.append(_interrupted_event(item, now, {"detected": "orphan"}))
        report.interrupted.append(item)
    try:
        if events:
            journal.append(events)
    finally:
        # even when the journal cannot be written, the tasks must run again
        for kept_id in requeue:
            if not store.requeue(kept_id):
                logger.warning("Interrupted message %d was re-run by someone else", kept_id)
    return report


def _dead_rows(
    huey: Huey, rows: list[InFlightRow], live: Liveness
) -> tuple[list[DeadRow], set[str], int]:
    """The in-flight rows whose worker is gone; the ids of every row of a dead consumer
    (its journal tasks need no orphan check); and how many of those rows a worker
    process still runs (left alone)."""
    found: list[DeadRow] = []
    handled: set[str] = set()
    still_running = 0
    for row in rows:
        info = live.info(row.consumer)
        local = info["host"] == live.host
        own_process = row.pid is not None and row.pid != info["pid"]  # a process worker
        reason = live.consumer_gone(row.consumer)
        if reason is None:
            if not (local and own_process) or live.now - row.taken_at < SETTLE_S:
                continue
            if process_alive(row.pid, row.taken_at):
                continue
            reason = "its worker process died"
        view = decode_message(huey.serializer, row.data)
        if view.id:
            handled.add(view.id)
        if local and own_process and process_alive(row.pid, row.taken_at):
            # its consumer is gone but the worker process still runs the task
            still_running += 1
            continue
        found.append(DeadRow(row, reason, view))
    return found, handled, still_running


def _ended(row: InFlightRow, record: dict[str, Any] | None) -> bool:
    """True if the journal shows this take was dealt with for good: the consumer died
    after the task finished (or was scheduled for later, retried, revoked, expired...)
    and before its row was released.  Re-running such a take would run it twice."""
    if record is None or (record["state_ts"] or 0) < row.taken_at - 0.001:
        return False
    state = record["state"]
    if state in DEALT_WITH:
        return True
    # an error with retries left ends only once Huey has queued the retry ("retrying")
    return state == ERROR and not record["retries"]


def _claim(
    storage: SqliteStorage, found: list[DeadRow], ended: set[int], now: float
) -> list[tuple[DeadRow, int | None]]:
    """Move the rows to ``desk_interrupted`` (only delete those in ``ended``) in one
    transaction; only rows this call deleted are returned (with their kept row's id, None
    when only deleted), so that concurrent callers never both recover one."""

    def move() -> list[tuple[DeadRow, int | None]]:
        claimed: list[tuple[DeadRow, int | None]] = []
        with storage.db(commit=True) as cursor:
            cursor.execute(
                "DELETE FROM desk_interrupted WHERE queue = ? AND interrupted_at < ?",
                (storage.name, now - KEEP_INTERRUPTED_S),
            )
            for dead in found:
                row, view = dead.row, dead.view
                cursor.execute("DELETE FROM desk_inflight WHERE id = ?", (row.id,))
                if cursor.rowcount != 1:
                    continue
                if row.id in ended:
                    claimed.append((dead, None))
                    continue
                cursor.execute(
                    "INSERT INTO desk_interrupted (queue, task_id, task_name, data, priority, "
                    "consumer, worker, interrupted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        storage.name,
                        view.id,
                        view.name,
                        row.data,
                        row.priority,
                        row.consumer,
                        row.worker,
                        now,
                    ),
                )
                claimed.append((dead, cursor.lastrowid))
        return claimed

    return guarded(move, _where(storage))


def _row_event(
    dead: DeadRow, record: dict[str, Any] | None, now: float
) -> tuple[Interrupted, NewEvent | None]:
    """The interruption of one recovered row, and its event (None when the consumer
    already journalled it: SIGTERM fires Huey's own "interrupted" signal)."""
    row, reason, view = dead.row, dead.reason, dead.view
    started = bool(
        record
        and record["consumer"] == row.consumer
        and (record["started_at"] or 0) >= row.taken_at - 0.001
    )
    who = f"{row.worker} (pid {row.pid})"
    if started:
        error = f"interrupted: {reason} while {who} ran it"
    else:
        error = f"interrupted: {reason} after {who} took the task, before it was seen to start"
    item = Interrupted(view.id, view.name, row.consumer, row.worker, row.pid, error, started)
    recorded = bool(
        record and record["state"] == INTERRUPTED and (record["state_ts"] or 0) >= row.taken_at
    )
    if recorded:
        return item, None
    data: dict[str, Any] = {"detected": "in-flight", "taken_at": row.taken_at}
    if view.id and (view.args or view.kwargs):
        args = view.args if isinstance(view.args, (list, tuple)) else (view.args,)
        kwargs = view.kwargs if isinstance(view.kwargs, dict) else {}
        data["args_preview"] = jsonsafe.args_preview(args, kwargs)
    if not view.id:
        data["problem"] = view.error
    return item, _interrupted_event(item, now, data)


def _interrupted_event(item: Interrupted, now: float, data: dict[str, Any]) -> NewEvent:
    return NewEvent(
        kind=INTERRUPTED,
        task_id=item.task_id,
        task_name=item.task_name,
        ts=now,
        pid=item.pid,
        worker=item.worker,
        consumer=item.consumer,
        data={"error": item.error, **data},
    )


def _rerun_event(item: Interrupted, now: float) -> NewEvent:
    # just after the interruption, and journalled before the message is back on the queue:
    # the new run's events are always later
    data: dict[str, Any] = {"rerun": True, "reason": RERUN_REASON}
    return NewEvent(
        kind=RESTORED, task_id=item.task_id, task_name=item.task_name, ts=now + 1e-6, data=data
    )


def _may_rerun(journal: Journal, view: MessageView) -> bool:
    """A task that declared N retries is re-run at most N times after interruptions."""
    retries = view.retries
    if not view.id or not isinstance(retries, int) or retries <= 0:
        return False
    return _reruns_so_far(journal, view.id) < retries


def _requeue(storage: SqliteStorage, kept_id: int) -> bool:
    """Put a kept interrupted message back on the queue, exactly once."""
    return guarded(lambda: requeue(storage, INTERRUPTED_TABLE, kept_id), _where(storage))


def rerun_interrupted(huey: Huey, journal: Journal, task_id: str) -> str:
    """A name kept for ``Dispatcher.retry``, the one retry rule (kept message, else a
    new task with the recorded arguments)."""
    return Dispatcher(huey, journal).retry(task_id)


def kept_interrupted(huey: Huey, limit: int = 100) -> list[dict[str, Any]]:
    """Interrupted tasks whose message is kept for a manual re-run, newest first."""
    store = inflight_store(huey)
    return [] if store is None else store.kept_interrupted(limit)


def inflight_count(huey: Huey) -> int:
    """How many messages workers have taken and not finished (0 for other storages)."""
    store = inflight_store(huey)
    return 0 if store is None else store.count()


def _kept_interrupted(storage: SqliteStorage, limit: int) -> list[dict[str, Any]]:
    ensure_tables(storage)
    rows = guarded(
        lambda: storage.sql(
            "SELECT task_id, task_name, consumer, worker, interrupted_at FROM "
            "desk_interrupted WHERE queue = ? ORDER BY id DESC LIMIT ?",
            (storage.name, limit),
            results=True,
        ),
        _where(storage),
    )
    keys = ("task_id", "task_name", "consumer", "worker", "interrupted_at")
    return [dict(zip(keys, r)) for r in rows]


def _inflight_count(storage: SqliteStorage) -> int:
    ensure_tables(storage)
    try:
        rows = storage.sql(
            "SELECT count(*) FROM desk_inflight WHERE queue = ?", (storage.name,), results=True
        )
    except sqlite3.Error:
        return 0
    return rows[0][0]
