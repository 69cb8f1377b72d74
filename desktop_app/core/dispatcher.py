"""Enqueue, retry, revoke, restore and flush tasks: every change the user asks for.

Arguments are checked against the task's signature before anything touches the queue,
so a bad call is refused with a sentence and nothing half-valid is ever enqueued.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from huey import Huey
from huey import signals as S
from huey.registry import Message
from huey.utils import normalize_time

from desktop_app.core import django_tasks, jsonsafe
from desktop_app.core.backends import enqueue_many, waiting_for
from desktop_app.core.backends.waiting import QUEUE, Waiting, WaitingMessages
from desktop_app.core.catalogue import Catalogue, TaskInfo
from desktop_app.core.convert import bind_arguments
from desktop_app.core.errors import UserError
from desktop_app.core.journal import Journal, NewEvent
from desktop_app.core.kept import (
    INTERRUPTED_TABLE,
    REASONS,
    KeptMessage,
    find_kept,
    kept_among,
    requeue,
)
from desktop_app.core.liveness import Liveness, host_name
from desktop_app.core.paths import queue_location
from desktop_app.core.recorder import encode_call
from desktop_app.core.safe_decode import decode
from desktop_app.core.states import (
    ENQUEUED,
    EXECUTING,
    FINAL_STATES,
    FLUSHED,
    RESTORED,
    REVOKED,
    SCHEDULED,
    TRANSIENT_STATES,
    label,
)
from desktop_app.core.storage_errors import guarded

logger = logging.getLogger("huey_desk.dispatcher")

MAX_DELAY_S = 10 * 365 * 86400
# How often run_now looks for a message again when its row changed under it.
RUN_NOW_ATTEMPTS = 3
T = TypeVar("T")


def parse_eta(text: str) -> dt.datetime:
    """An ISO date-time; without a zone it is local time, as a user typing it means."""
    if not isinstance(text, str) or not text.strip():
        raise UserError("--eta needs a date and time like 2026-11-25T14:30.")
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"{text!r} is not a date and time; use a form like 2026-11-25T14:30."
        ) from None


def _check_delay(delay: Any) -> float:
    if isinstance(delay, bool) or not isinstance(delay, (int, float)):
        raise UserError("The delay must be a number of seconds.")
    if isinstance(delay, float) and math.isnan(delay):
        raise UserError("The delay must be a finite number of seconds.")
    if delay < 0:  # compared before any float conversion: ints may be huge
        raise UserError("The delay must be zero or more seconds.")
    if delay > MAX_DELAY_S:
        raise UserError("The delay must be less than ten years.")
    return float(delay)


def _check_priority(priority: Any) -> float | int:
    if isinstance(priority, bool) or not isinstance(priority, (int, float)):
        raise UserError("The priority must be a number (higher runs first).")
    if abs(priority) > 1e15 or not math.isfinite(priority):
        raise UserError(
            "The priority must be a number between -1e15 and 1e15 (higher runs first)."
        )
    return priority


@dataclass
class _Held:
    """What ``Dispatcher.batch`` holds back: messages to write, events to journal."""

    puts: list[tuple[Any, bytes]] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)


class Dispatcher:
    """Puts work on a Huey queue and records what it did in the journal."""

    def __init__(
        self,
        huey: Huey,
        journal: Journal | None = None,
        catalogue: Catalogue | None = None,
        on_busy: Callable[[str], None] | None = None,
    ) -> None:
        """``on_busy`` hears a sentence each time a locked queue makes a call wait."""
        self.huey = huey
        self.journal = journal
        self.catalogue = catalogue or Catalogue(huey)
        self.on_busy = on_busy
        self._where = queue_location(huey)
        self._batch = threading.local()  # events held by ``journal_batch``, per thread

    def _guarded(self, call: Callable[[], T]) -> T:
        """One storage transaction, retried while the queue is busy."""
        return guarded(call, self._where, on_busy=self.on_busy)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold this thread's queue writes and journal events; write them at the end, the
        messages in one storage write and the events in one journal batch.

        For bulk actions: a write per chunk instead of two per task.  Messages are
        written whatever the block raised (each was checked and counted as queued), and
        journalled after.  A failure to write them drops their events (nothing was
        queued) and is raised; a failure to journal is raised too: the chunk's links
        (``retry_of``) are what keeps a bulk retry from queueing a task twice.
        """
        held = _Held()
        self._batch.held = held
        try:
            yield
        finally:
            self._batch.held = None
            self._write_held(held)

    def _write_held(self, held: _Held) -> None:
        messages = [(data, task.priority) for task, data in held.puts]
        try:
            self._guarded(lambda: enqueue_many(self.huey, messages))
        except BaseException:
            lost = {task.id for task, _ in held.puts}
            held.events = [e for e in held.events if e.task_id not in lost]
            if held.events and self.journal is not None:
                self.journal.append(held.events)
            raise
        for task, _ in held.puts:
            self.huey._emit(S.SIGNAL_ENQUEUED, task)
        if held.events and self.journal is not None:
            self.journal.append(held.events)

    def _record(self, event: NewEvent) -> None:
        """Journal an event; a journal failure never loses the job that was queued."""
        if self.journal is None:
            return
        held = getattr(self._batch, "held", None)
        if held is not None:
            held.events.append(event)
            return
        try:
            self.journal.append([event])
        except Exception as exc:
            logger.warning("Could not journal %s of %s: %s", event.kind, event.task_id, exc)

    def submit(
        self,
        name: str,
        args: list | tuple = (),
        kwargs: dict | None = None,
        *,
        delay: float | None = None,
        eta: dt.datetime | str | None = None,
        priority: float | None = None,
        retry_of: str | None = None,
        queue_name: str | None = None,
    ) -> str:
        """Validate and enqueue a call of task ``name``; returns the new task id.

        ``queue_name``: for a ``django.tasks`` task, the Django queue name it is given.
        """
        info = self.catalogue.get(name)
        if queue_name is not None and info.django_task is None:
            raise UserError(
                f"{info.short_name} is a Huey task; a queue name is for django.tasks tasks."
            )
        call_args, call_kwargs = bind_arguments(info, list(args), dict(kwargs or {}))
        if delay is not None and eta is not None:
            raise UserError("Give either a delay or an ETA, not both.")
        when: dt.datetime | None = None
        if delay is not None:
            when = normalize_time(delay=_check_delay(delay), utc=self.huey.utc)
        elif eta is not None:
            eta_dt = parse_eta(eta) if isinstance(eta, str) else eta
            if not isinstance(eta_dt, dt.datetime):
                raise UserError("The ETA must be a date and time.")
            try:
                when = normalize_time(eta=eta_dt, utc=self.huey.utc)
            except (ValueError, OverflowError) as exc:
                raise UserError(f"The ETA {eta_dt.isoformat()} cannot be used: {exc}.") from None
        if priority is not None:
            priority = _check_priority(priority)
        if info.django_task is not None:
            return self._enqueue_django(
                info, call_args, call_kwargs, when, priority, retry_of, queue_name
            )
        return self._enqueue(info, call_args, call_kwargs, when, priority, retry_of)

    def _enqueue_django(
        self,
        info: TaskInfo,
        args: tuple,
        kwargs: dict,
        eta: dt.datetime | None,
        priority: float | None,
        retry_of: str | None,
        queue_name: str | None,
    ) -> str:
        """A django.tasks task goes through Django's backend (its ``djt.<id>`` record)."""
        ts = time.time()
        task_id = self._guarded(
            lambda: django_tasks.enqueue(
                info.django_task,
                args,
                kwargs,
                run_after=None if eta is None else django_tasks.aware(eta, self.huey.utc),
                priority=priority,
                queue_name=queue_name,
                where=self._where,
                supports_priority=bool(getattr(self.huey.storage, "priority", True)),
            )
        )
        self._record_enqueued(task_id, info.name, ts, args, kwargs, priority, eta, retry_of)
        return task_id

    def _enqueue(
        self,
        info: TaskInfo,
        args: tuple,
        kwargs: dict,
        eta: dt.datetime | None,
        priority: float | None,
        retry_of: str | None,
    ) -> str:
        assert info.task_class is not None
        task = info.task_class(args, kwargs, eta=eta, priority=priority)
        storage = self.huey.storage
        if task.priority and not getattr(storage, "priority", True):
            # Huey's own refusal is a NotImplementedError from the storage: say it plainly
            given = "a priority" if priority else f"its declared priority {task.priority}"
            raise UserError(
                f"The queue {self._where} ({type(storage).__name__}) has no priorities, so "
                f"{info.short_name} cannot be queued with {given}; submit it without one."
            )
        ts = time.time()
        self._put(task, info.short_name)
        self._record_enqueued(task.id, info.name, ts, args, kwargs, task.priority, eta, retry_of)
        return task.id

    def _record_enqueued(
        self,
        task_id: str,
        name: str,
        ts: float,
        args: tuple,
        kwargs: dict,
        priority: float | None,
        eta: dt.datetime | None,
        retry_of: str | None,
    ) -> None:
        fields = encode_call(args, kwargs)
        fields["priority"] = priority
        if eta is not None:
            fields["eta"] = eta.isoformat()
        if retry_of:
            fields["retry_of"] = retry_of
        kind = SCHEDULED if eta is not None else ENQUEUED
        self._record(NewEvent(kind=kind, task_id=task_id, task_name=name, ts=ts, data=fields))

    def _put(self, task: Any, short_name: str) -> None:
        """What ``Huey.enqueue`` does for one task, with the storage write alone retried.

        Huey resolves ``expires`` against the enqueue time, fires ``SIGNAL_ENQUEUED`` and
        writes one row.  Calling ``huey.enqueue`` inside the busy retry would resolve and
        fire again on every attempt; here they happen once: the expiry is resolved before
        the first attempt, the signal fires after the one write that went through (so a
        refused submission fires nothing), and the write is one INSERT, which a failed
        attempt leaves undone.  ``tests/core/test_dispatcher.py`` compares the result with
        ``huey.enqueue``'s own.
        """
        huey = self.huey
        if task.expires:
            task.resolve_expires(huey.utc)
        if huey._immediate:  # no storage to retry on: Huey runs it here and now
            huey.enqueue(task)
            return
        try:
            data = huey.serialize_task(task)
        except Exception as exc:
            raise UserError(
                f"{short_name}: the arguments cannot be stored ({type(exc).__name__}: {exc})."
            ) from None
        held = getattr(self._batch, "held", None)
        if held is not None:  # written with the rest of the batch (``batch``)
            held.puts.append((task, data))
            return
        self._guarded(lambda: huey.storage.enqueue(data, task.priority))
        huey._emit(S.SIGNAL_ENQUEUED, task)

    def _record_about(
        self,
        kind: str,
        task_id: str,
        record: dict[str, Any] | None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Journal an action on a task the journal may or may not know."""
        self._record(
            NewEvent(
                kind=kind,
                task_id=task_id,
                task_name=record["task_name"] if record else None,
                data=data or {},
            )
        )

    def _known(self, task_id: str) -> dict[str, Any] | None:
        if self.journal is None:
            return None
        return self.journal.task(task_id)

    def retry(self, task_id: str, known: dict[str, Any] | None = None, kept: bool = True) -> str:
        """Run task ``task_id`` again with the same arguments; returns the id that will run.

        The one retry rule, for the window and the command line alike: when a kept
        message exists (recovery kept an interrupted task's, or a consumer kept one it
        could not run) that message goes back on the queue, the original bytes with the
        same id; otherwise a new task is enqueued with the arguments the journal recorded.
        ``known``: the task's summary when the caller has read it already (``args`` and
        ``kwargs`` decoded, as ``Journal.task`` gives them), as a bulk retry has;
        ``kept`` False: the caller has looked (``kept_among``) and no message is kept.
        """
        storage = self.huey.storage
        if kept:
            message = self._guarded(lambda: find_kept(storage, task_id))  # None: none kept
            if message is not None:
                return self._rerun_kept(message)
        record = known if known is not None else self._known(task_id)
        if record is None:
            raise UserError(
                f"No task {task_id!r} in the journal; only tasks it has seen can be retried."
            )
        interrupted = Liveness(self.journal, host_name()).interrupted(record)
        if record["state"] in TRANSIENT_STATES and interrupted is None:
            raise UserError(
                f"Task {task_id} is still {label(record['state'])}; retry it once it has finished."
            )
        if not record["args_exact"] or record["args"] is None:
            raise UserError(
                f"The arguments of task {task_id} were not recorded exactly "
                f"({record['args_preview']}); submit it again by hand."
            )
        args = jsonsafe.decode(record["args"])
        kwargs = jsonsafe.decode(record["kwargs"] or {})
        return self.submit(
            record["task_name"], args, kwargs, priority=record["priority"], retry_of=task_id
        )

    def kept_among(self, task_ids: list[str]) -> set[str]:
        """Which of these tasks have a kept message (``retry`` re-runs those as they are)."""
        storage = self.huey.storage
        return self._guarded(lambda: kept_among(storage, task_ids))

    def _rerun_kept(self, kept: KeptMessage) -> str:
        data: dict[str, Any] = {"requested": True, "reason": REASONS[kept.table]}
        if kept.table == INTERRUPTED_TABLE:
            data["rerun"] = True  # counted against the retries a task declared
        # journalled before the message is back on the queue: the new run's events are later
        self._record(
            NewEvent(kind=RESTORED, task_id=kept.task_id, task_name=kept.task_name, data=data)
        )
        storage = self.huey.storage
        if not self._guarded(lambda: requeue(storage, kept.table, kept.row_id)):
            raise UserError(f"Task {kept.task_id} has already been re-run.")
        return kept.task_id

    def revoke(self, task_id: str, known: dict[str, Any] | None = None) -> None:
        """Revoke a pending or scheduled task: the consumer will skip it.

        ``known``: the task's summary when the caller has read it already."""
        record = known if known is not None else self._known(task_id)
        if record is not None and record["state"] in FINAL_STATES:
            raise UserError(f"Task {task_id} has already ended ({label(record['state'])}).")
        if record is not None and record["state"] == EXECUTING:
            raise UserError(f"Task {task_id} is running; Huey cannot stop a running task.")
        self._guarded(lambda: self.huey.revoke_by_id(task_id))
        self._record_about(REVOKED, task_id, record, {"requested": True})

    def restore(self, task_id: str) -> None:
        """Undo a revoke that the consumer has not acted on yet."""
        if self.journal is not None and any(
            e.kind == REVOKED and e.worker for e in self.journal.events_for(task_id)
        ):
            raise UserError(
                f"Task {task_id} was already skipped by the consumer; retry it instead."
            )
        restored = self._guarded(lambda: self.huey.restore_by_id(task_id))
        if not restored:
            raise UserError(f"Task {task_id} is not revoked.")
        self._record_about(RESTORED, task_id, self._known(task_id))

    def run_now(self, task_id: str) -> None:
        """Run a delayed or scheduled task as soon as a worker is free: its ETA is cleared.

        The message is rewritten from its safely decoded form; one that holds objects the
        monitor will not decode is refused rather than rewritten.  It is found with plain
        reads (no lock: the consumer's workers go on), then moved by the storage's mover
        (``backends/waiting.py``) in one atomic step that first checks it is still there,
        unchanged, so that a consumer's scheduler taking it meanwhile cannot make it run
        twice.
        """
        store = waiting_for(self.huey)
        for _ in range(RUN_NOW_ATTEMPTS):
            found = self._guarded(lambda: self._find_waiting(store, task_id))
            if found is None:
                raise UserError(f"Task {task_id} is not waiting in the queue or the schedule.")
            waiting, message = found
            blob = self.huey.serializer.serialize(message._replace(eta=None))
            if self._guarded(
                lambda w=waiting, b=blob, m=message: store.move_to_queue(w, b, m.priority)
            ):
                break
        else:
            raise UserError(f"Task {task_id} kept changing while it was moved; try again.")
        # eta None: the journal no longer shows the time it was waiting for
        self._record_about(ENQUEUED, task_id, self._known(task_id), {"run_now": True, "eta": None})

    def _find_waiting(
        self, store: WaitingMessages, task_id: str
    ) -> tuple[Waiting, Message] | None:
        """Where the message of ``task_id`` waits, and the message decoded.

        Plain reads.  Only messages whose bytes contain the id are decoded when the
        serializer does not compress (an uncompressed pickle, signed or not, holds the id
        as UTF-8); if that finds nothing, every message is decoded.
        """
        needle = task_id.encode("utf-8", "surrogatepass")
        filters: list[bytes | None] = (
            [] if getattr(self.huey.serializer, "comp", False) else [needle]
        )
        filters.append(None)
        for narrow in filters:
            for waiting in store.candidates(narrow):
                message = self._waiting_message(waiting.where, task_id, waiting.data)
                if message is not None:
                    return waiting, message
        return None

    def _waiting_message(self, where: str, task_id: str, data: bytes) -> Message | None:
        """The message in ``data`` if it is task ``task_id``'s and may be brought forward."""
        decoded = decode(self.huey.serializer, data)
        message = decoded.value
        if not isinstance(message, Message) or message.id != task_id:
            return None
        if decoded.tampered:
            raise UserError(
                f"Task {task_id} fails its signature check (tampered); "
                "it will not be rewritten or run."
            )
        if not decoded.ok:
            return None
        if decoded.refused:
            raise UserError(
                f"Task {task_id} holds objects Huey Desk does not decode; "
                "it cannot be rewritten to run now."
            )
        if where == QUEUE and message.eta is None:
            raise UserError(
                f"Task {task_id} is already waiting for a worker (it has no "
                "delay or time set); there is nothing to bring forward."
            )
        return message

    def flush(self, queue: bool = True, schedule: bool = True, results: bool = False) -> None:
        """Delete all pending (and/or scheduled) tasks, and results if asked."""
        storage = self.huey.storage
        if queue:
            self._guarded(storage.flush_queue)
        if schedule:
            self._guarded(storage.flush_schedule)
        if results:
            self._guarded(storage.flush_results)
        if queue and schedule:
            self._record(
                NewEvent(
                    kind=FLUSHED, data={"queue": queue, "schedule": schedule, "results": results}
                )
            )
