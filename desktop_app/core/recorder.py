"""Huey signal hooks that write every task event to the journal from a writer thread.

Hooks run in the worker that fires them and must cost the task almost nothing, so they
only build a small record and put it on a queue; one writer thread per process commits
whatever has gathered in one transaction (the pattern of huey's ``contrib/stats.py``).
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
from desktop_app.core.journal import (
    PROGRESS,
    NewEvent,
    SqliteJournal,
    WorkerUpdate,
)

logger = logging.getLogger("huey_desk.recorder")

MAX_ARGS_JSON = 64 * 1024
MAX_TRACEBACK = 64 * 1024
_BATCH = 2000
_ENDS = {S.SIGNAL_COMPLETE, S.SIGNAL_ERROR, S.SIGNAL_INTERRUPTED, S.SIGNAL_TIMEOUT,
         S.SIGNAL_CANCELED, S.SIGNAL_LOCKED, S.SIGNAL_RATE_LIMITED}


def encode_call(args: Any, kwargs: Any) -> dict[str, Any]:
    """The journal's fields for a call's arguments: exact JSON when small, else a preview."""
    args = tuple(args or ())
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


class _Writer:
    """A thread that drains a queue of records into the journal in batches."""

    def __init__(self, journal_path: str) -> None:
        self.journal_path = journal_path
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="huey-desk-journal", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        journal = SqliteJournal(self.journal_path)
        stop = False
        while not stop:
            batch: list[Any] = [self.queue.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            waiters = [b for b in batch if isinstance(b, threading.Event)]
            stop = any(b is None for b in batch)
            records = [b for b in batch if isinstance(b, (NewEvent, WorkerUpdate))]
            for attempt in range(5):
                try:
                    journal.append(records)
                    break
                except Exception:
                    logger.exception("Could not write %d journal records (attempt %d)",
                                     len(records), attempt + 1)
                    time.sleep(0.2 * (attempt + 1))
            for w in waiters:
                w.set()
        journal.close()

    def put(self, record: Any) -> None:
        self.queue.put(record)

    def flush(self, timeout: float = 10.0) -> bool:
        done = threading.Event()
        self.queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.queue.put(None)
        self.thread.join(timeout)


class Recorder:
    """Connects to a Huey instance's signals and records every event in the journal."""

    def __init__(self, huey: Huey, journal_path: str, consumer_id: str,
                 worker_type: str = "thread") -> None:
        self.huey = huey
        self.journal_path = str(journal_path)
        self.consumer_id = consumer_id
        self.worker_type = worker_type
        self._pid = -1
        self._writer: _Writer | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._started: dict[str, tuple[float, str]] = {}

    # -- lifecycle ---------------------------------------------------------------------
    def install(self) -> None:
        self.huey._signal.connect(self._on_signal)
        self.huey.on_shutdown(name="huey_desk_flush")(self.flush)
        self.huey.post_execute(name="huey_desk_result")(self._post_execute)
        progress.install(self.report_progress)

    def uninstall(self) -> None:
        self.huey._signal.disconnect(self._on_signal)
        self.huey.unregister_on_shutdown("huey_desk_flush")
        self.huey.unregister_post_execute("huey_desk_result")
        progress.install(None)

    def _writer_here(self) -> _Writer:
        """The writer of this process; a forked worker process starts its own."""
        pid = os.getpid()
        if self._pid != pid or self._writer is None:
            with self._lock:
                if self._pid != pid or self._writer is None:
                    self._writer = _Writer(self.journal_path)
                    self._pid = pid
                    self._started = {}
        return self._writer

    def put(self, record: NewEvent | WorkerUpdate) -> None:
        self._writer_here().put(record)

    def flush(self) -> None:
        if self._writer is not None and self._pid == os.getpid():
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None and self._pid == os.getpid():
            self._writer.close()
            self._writer = None

    # -- hooks -------------------------------------------------------------------------
    def _worker_name(self) -> str:
        if self.worker_type == "process":
            return multiprocessing.current_process().name
        return threading.current_thread().name

    def _on_signal(self, signal: str, task: Any, *args: Any) -> None:
        now = time.time()
        worker = self._worker_name()
        pid = os.getpid()
        task_id = getattr(task, "id", None)
        data: dict[str, Any] = {}
        if signal in (S.SIGNAL_EXECUTING, S.SIGNAL_SCHEDULED):
            data.update(encode_call(task.args, task.kwargs))
            data["priority"] = task.priority
            data["retries"] = task.retries
            if task.eta is not None:
                data["eta"] = task.eta.isoformat()
        if signal == S.SIGNAL_EXECUTING:
            self._started[task_id] = (time.monotonic(), worker)
            self._local.task = task
        elif signal in _ENDS:
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
        self.put(NewEvent(kind=signal, task_id=task_id, task_name=_task_name(task), ts=now,
                          pid=pid, worker=worker, consumer=self.consumer_id, data=data))
        if signal == S.SIGNAL_EXECUTING:
            self.put(WorkerUpdate(self.consumer_id, worker, pid, "busy", task_id,
                                  _task_name(task), now))
        elif signal in _ENDS:
            self.put(WorkerUpdate(self.consumer_id, worker, pid, "idle", None, None, now))

    def _post_execute(self, task: Any, value: Any, exception: Any) -> None:
        """Keep a preview of the task's return value for the complete event."""
        self._local.result = jsonsafe.preview(value) if exception is None else None

    def report_progress(self, fraction: float, message: str | None) -> None:
        """Record progress of the task running in this thread, if there is one."""
        task = getattr(self._local, "task", None)
        if task is None:
            return
        data: dict[str, Any] = {"progress": fraction}
        if message is not None:
            data["progress_message"] = message
        self.put(NewEvent(kind=PROGRESS, task_id=task.id, task_name=_task_name(task),
                          pid=os.getpid(), worker=self._worker_name(),
                          consumer=self.consumer_id, data=data))


def _task_name(task: Any) -> str:
    cls = type(task)
    return f"{cls.__module__}.{cls.__name__}"
