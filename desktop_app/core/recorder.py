"""Huey signal hooks that record every task event in the journal.

Hooks run in the worker that fires them and must cost the task almost nothing, so they
only build a small record and hand it to a writer that commits whatever has gathered in
one transaction (the pattern of huey's ``contrib/stats.py``).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import queue
import threading
import time
import traceback
from typing import Any

from huey import Huey
from huey import signals as S

from desktop_app.core import jsonsafe, progress
from desktop_app.core.backends import JournalSpec
from desktop_app.core.django_tasks import RECORD_KEY, carried, django_view, is_carrier
from desktop_app.core.journal import PROGRESS, NewEvent
from desktop_app.core.journal_writer import (
    WriterProcess,
    as_record,
    open_journal,
    write_batches,
)

logger = logging.getLogger("huey_desk.recorder")

MAX_ARGS_JSON = 64 * 1024
MAX_TRACEBACK = 64 * 1024
_ENDS = {
    S.SIGNAL_COMPLETE,
    S.SIGNAL_ERROR,
    S.SIGNAL_INTERRUPTED,
    S.SIGNAL_TIMEOUT,
    S.SIGNAL_CANCELED,
    S.SIGNAL_LOCKED,
    S.SIGNAL_RATE_LIMITED,
}


def current_worker_name(worker_type: str) -> str:
    """The name of the worker running this code: its process's name for process workers
    (the main thread of each is called MainThread), else its thread's name."""
    if worker_type == "process":
        return multiprocessing.current_process().name
    return threading.current_thread().name


def encode_call(args: Any, kwargs: Any) -> dict[str, Any]:
    """The journal's fields for a call's arguments: exact JSON when small, else a preview."""
    if not args and not kwargs:
        return {"args_preview": "", "args": [], "kwargs": {}, "args_exact": 1}
    args = tuple(args)
    kwargs = dict(kwargs or {})
    out: dict[str, Any] = {"args_preview": jsonsafe.args_preview(args, kwargs)}
    enc_args, exact_a = jsonsafe.encode(list(args))
    enc_kwargs, exact_k = jsonsafe.encode(kwargs)
    exact = exact_a and exact_k
    if exact and len(json.dumps([enc_args, enc_kwargs])) > MAX_ARGS_JSON:
        exact = False
    if exact:
        out["args"], out["kwargs"] = enc_args, enc_kwargs
    out["args_exact"] = int(exact)
    return out


class ThreadWriter:
    """Writes records from a thread of this process (tests, and the fallback when the
    writer process cannot be used)."""

    def __init__(self, journal: JournalSpec | str) -> None:
        """``journal``: a ``backends.JournalSpec`` (or a SQLite journal's path)."""
        self.journal_spec = journal
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="huey-desk-journal", daemon=True)
        self.thread.start()

    def _receive(self, block: bool) -> Any:
        try:
            return self.queue.get(block)
        except queue.Empty:
            return False

    def _run(self) -> None:
        journal = open_journal(self.journal_spec)
        try:
            write_batches(self._receive, journal)
        finally:
            journal.close()

    def send(self, record: NewEvent) -> None:
        self.queue.put(record)

    def send_record(self, record: tuple) -> None:
        """A record in the writer process's tuple layout (``journal_writer.as_record``)."""
        self.queue.put(NewEvent(*record))

    def flush(self, timeout: float = 10.0) -> bool:
        done = threading.Event()
        self.queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        self.queue.put(None)
        self.thread.join(timeout)
        return not self.thread.is_alive()


class Recorder:
    """Connects to a Huey instance's signals and records every event in the journal.

    ``writer="process"`` (what the consumer uses) sends records to a separate writer
    process; ``"thread"`` writes from a thread of this process.  ``journal`` is a
    ``backends.JournalSpec`` (``backends.journal_spec(huey)``) or a SQLite journal's path.
    """

    def __init__(
        self,
        huey: Huey,
        journal: JournalSpec | str | os.PathLike[str],
        consumer_id: str,
        worker_type: str = "thread",
        writer: str = "thread",
    ) -> None:
        self.huey = huey
        self.journal_spec = journal if isinstance(journal, JournalSpec) else str(journal)
        self.consumer_id = consumer_id
        self.worker_type = worker_type
        self.writer_kind = writer
        self._pid = -1
        self._writer: ThreadWriter | WriterProcess | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._started: dict[str, tuple[float, str]] = {}
        self._names: dict[type, str] = {}

    # -- lifecycle ---------------------------------------------------------------------
    def install(self) -> None:
        if self.writer_kind == "process":
            self._writer = WriterProcess(self.journal_spec)
            self._pid = os.getpid()
        self.huey._signal.connect(self._on_signal)
        self.huey.on_shutdown(name="huey_desk_flush")(self.flush)
        self.huey.post_execute(name="huey_desk_result")(self._post_execute)
        progress.install(self.report_progress)

    def uninstall(self) -> None:
        self.huey._signal.disconnect(self._on_signal)
        self.huey.unregister_on_shutdown("huey_desk_flush")
        self.huey.unregister_post_execute("huey_desk_result")
        progress.install(None)

    def _writer_here(self) -> ThreadWriter | WriterProcess:
        """The writer for this process.  The writer process's socket is shared by forked
        worker processes; a thread writer is not, so a forked child starts its own."""
        writer = self._writer
        if writer is not None and (isinstance(writer, WriterProcess) or self._pid == os.getpid()):
            return writer
        with self._lock:
            if self._writer is None or (
                isinstance(self._writer, ThreadWriter) and self._pid != os.getpid()
            ):
                self._writer = ThreadWriter(self.journal_spec)
                self._pid = os.getpid()
                self._started = {}
            return self._writer

    def put(self, record: NewEvent) -> None:
        """Send one event to the writer (never raises for the event's data)."""
        self._put_record(as_record(record))

    def _put_record(self, record: tuple) -> None:
        """Send a record in the writer's tuple layout: what the hooks build directly, with
        no event object in between (the hooks run in the worker, on every task)."""
        writer = self._writer
        if writer is None or not (isinstance(writer, WriterProcess) or self._pid == os.getpid()):
            writer = self._writer_here()
        try:
            writer.send_record(record)
        except (ValueError, TypeError) as exc:
            # the data could not be encoded: keep the event, without its data
            logger.warning("Journal record for %s cut down: %s", record[1], exc)
            data = record[7]
            slim = {"error": data.get("error")} if "error" in data else {}
            writer.send_record((*record[:7], slim))
        except OSError as exc:
            # The writer process is gone: keep recording from a thread of this process.
            logger.warning("Journal writer process unavailable (%s); writing in-process.", exc)
            with self._lock:
                if self._writer is writer:
                    self._writer = ThreadWriter(self.journal_spec)
                    self._pid = os.getpid()
            self._writer_here().send_record(record)

    def flush(self) -> None:
        """Write what has been recorded so far (the thread writer; the process writer's
        records are already out of this process once sent)."""
        writer = self._writer
        if isinstance(writer, ThreadWriter) and self._pid == os.getpid():
            writer.flush()

    def close(self) -> None:
        """Write everything and stop the writer (call once, in the consumer's process)."""
        writer, self._writer = self._writer, None
        if writer is not None and self._pid == os.getpid():
            writer.close()

    # -- hooks -------------------------------------------------------------------------
    def _worker_name(self) -> str:
        return current_worker_name(self.worker_type)

    def _task_name(self, task: Any) -> str:
        cls = type(task)
        name = self._names.get(cls)
        if name is None:
            name = self._names[cls] = _task_name(task)
        return name

    def _on_signal(self, signal: str, task: Any, *args: Any) -> None:
        if is_carrier(self._task_name(task)):
            self._on_other(signal, task, args)  # a django.tasks task: the general path
        elif signal == S.SIGNAL_EXECUTING:
            self._on_executing(task)
        elif signal == S.SIGNAL_COMPLETE:
            self._on_complete(task)
        else:
            self._on_other(signal, task, args)

    def _on_executing(self, task: Any) -> None:
        """The start of a run: the hot path, kept to a few lookups and one send."""
        now = time.time()
        worker = self._worker_name()
        task_id = task.id
        if task.args or task.kwargs:
            data = encode_call(task.args, task.kwargs)
        else:
            data = {"args_preview": "", "args": [], "kwargs": {}, "args_exact": 1}
        data["priority"] = task.priority
        data["retries"] = task.retries
        if task.eta is not None:
            data["eta"] = task.eta.isoformat()
        self._started[task_id] = (time.monotonic(), worker)
        self._local.task = task
        self._put_record(
            (
                S.SIGNAL_EXECUTING,
                task_id,
                self._task_name(task),
                now,
                os.getpid(),
                worker,
                self.consumer_id,
                data,
            )
        )

    def _on_complete(self, task: Any) -> None:
        """A run that returned: the other hot path."""
        now = time.time()
        local = self._local
        data: dict[str, Any] = {}
        started = self._started.pop(task.id, None)
        if started is not None:
            data["duration"] = round(time.monotonic() - started[0], 6)
            worker = started[1]
        else:
            worker = self._worker_name()
        if getattr(local, "task", None) is task:
            local.task = None
        data["result_preview"] = getattr(local, "result", None)
        local.result = None
        self._put_record(
            (
                S.SIGNAL_COMPLETE,
                task.id,
                self._task_name(task),
                now,
                os.getpid(),
                worker,
                self.consumer_id,
                data,
            )
        )

    def _on_other(self, signal: str, task: Any, args: tuple) -> None:
        """Every other signal, and every signal of a task that carries a django.tasks one."""
        now = time.time()
        worker = self._worker_name()
        task_id = getattr(task, "id", None)
        data: dict[str, Any] = {}
        # a djtasks.run task is recorded as the django.tasks task it carries
        raw_name = self._task_name(task)
        name, call_args, call_kwargs = carried(raw_name, task.args, task.kwargs)
        if signal in (S.SIGNAL_EXECUTING, S.SIGNAL_SCHEDULED):
            data.update(encode_call(call_args, call_kwargs))
            data["priority"] = task.priority
            data["retries"] = task.retries
            if task.eta is not None:
                data["eta"] = task.eta.isoformat()
        if signal == S.SIGNAL_EXECUTING:
            self._started[task_id] = (time.monotonic(), worker)
            self._local.task = task
        elif signal in _ENDS or (signal == S.SIGNAL_RETRYING and task_id in self._started):
            # (a task that raised RetryTask ends with "retrying" and nothing else)
            started = self._started.pop(task_id, None)
            if started is not None:
                data["duration"] = round(time.monotonic() - started[0], 6)
                worker = started[1]  # interruptions are reported from the main thread
            if getattr(self._local, "task", None) is task:
                self._local.task = None
        if signal == S.SIGNAL_ERROR and args:
            exc = args[0]
            data["error"] = jsonsafe.preview(exc, 500)
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            data["traceback"] = tb[-MAX_TRACEBACK:]
            data["retries"] = task.retries
        elif signal == S.SIGNAL_COMPLETE:
            data["result_preview"] = getattr(self._local, "result", None)
            self._local.result = None
        elif signal == S.SIGNAL_RETRYING:
            data["retries"] = task.retries
        elif signal == S.SIGNAL_INTERRUPTED:
            data["error"] = "interrupted: the consumer was stopped while the task ran"
        elif signal == S.SIGNAL_TIMEOUT:
            data["error"] = f"timed out after {task.timeout}s"
        if signal in _ENDS and is_carrier(raw_name):
            self._django_fields(task_id, signal, data)
        self._put_record(
            (
                signal,
                task_id,
                name,
                now,
                os.getpid(),
                worker,
                self.consumer_id,
                data,
            )
        )

    def _django_fields(self, task_id: Any, signal: str, data: dict[str, Any]) -> None:
        """The Django status (and, once complete, the return value) of a django.tasks
        task, from its ``djt.<id>`` record: the huey task itself returns nothing."""
        try:
            view = django_view(self.huey.get(RECORD_KEY % task_id, peek=True))
        except Exception as exc:
            logger.warning("Could not read the Django record of %s: %s", task_id, exc)
            return
        if view is None:
            return
        data["django_status"] = view["status"]
        if signal == S.SIGNAL_COMPLETE:
            data["result_preview"] = jsonsafe.preview(view["return_value"])

    def _post_execute(self, task: Any, value: Any, exception: Any) -> None:
        """Keep a preview of the task's return value for the complete event."""
        if exception is not None:
            self._local.result = None
        else:
            self._local.result = "None" if value is None else jsonsafe.preview(value)

    def report_progress(self, fraction: float, message: str | None) -> None:
        """Record progress of the task running in this thread, if there is one."""
        task = getattr(self._local, "task", None)
        if task is None:
            return
        data: dict[str, Any] = {"progress": fraction}
        if message is not None:
            data["progress_message"] = message
        self.put(
            NewEvent(
                kind=PROGRESS,
                task_id=task.id,
                task_name=carried(_task_name(task), task.args, task.kwargs)[0],
                pid=os.getpid(),
                worker=self._worker_name(),
                consumer=self.consumer_id,
                data=data,
            )
        )


def _task_name(task: Any) -> str:
    cls = type(task)
    return f"{cls.__module__}.{cls.__name__}"
