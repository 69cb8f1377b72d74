"""Read-only views of a queue: counts, bounded pages, peeked results, status, one task.

Nothing here consumes anything: results are peeked (Huey's default read deletes them),
and messages are decoded by ``safe_decode``, never by ``pickle.loads``.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from dataclasses import dataclass
from typing import Any

from huey import Huey
from huey.constants import EmptyData
from huey.storage import SqliteStorage
from huey.utils import Error

from desktop_app.core import jsonsafe
from desktop_app.core.errors import UserError
from desktop_app.core.journal import (
    COMPLETE,
    ERROR,
    EXECUTING,
    EXPIRED,
    FINAL_STATES,
    INTERRUPTED,
    REVOKED,
    STALE_AFTER_S,
    SqliteJournal,
)
from desktop_app.core.paths import sqlite_filename
from desktop_app.core.safe_decode import Decoded, MessageView, decode, decode_message
from desktop_app.core.storage_errors import guarded

MAX_PAGE = 1000
# Workers of consumers silent for longer than this are left out of the status.
FORGET_AFTER_S = 600.0  # a dead consumer's workers are listed this long
FORGET_STOPPED_S = 60.0  # a consumer stopped on purpose: its workers this long
REPORTED_STATES = (COMPLETE, ERROR, INTERRUPTED, REVOKED, EXPIRED)


@dataclass
class QueuedTask:
    """One pending or scheduled message, decoded safely for display."""

    id: str | None
    name: str | None
    args_preview: str
    priority: float | None
    eta: dt.datetime | None
    retries: int | None
    ok: bool
    error: str | None
    enqueued_at: float | None = None

    @classmethod
    def from_view(cls, view: MessageView) -> QueuedTask:
        preview = ""
        if view.ok or view.id:
            args = view.args if isinstance(view.args, (list, tuple)) else (view.args,)
            kwargs = view.kwargs if isinstance(view.kwargs, dict) else {}
            preview = jsonsafe.args_preview(args, kwargs)
        return cls(
            view.id, view.name, preview, view.priority, view.eta, view.retries, view.ok, view.error
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.name,
            "args": self.args_preview,
            "priority": self.priority,
            "eta": self.eta.isoformat() if self.eta else None,
            "retries": self.retries,
            "decoded": self.ok,
            "problem": self.error,
            "enqueued_at": self.enqueued_at,
        }


def _page(offset: int, limit: int) -> tuple[int, int]:
    if offset < 0 or limit < 0:
        raise UserError("Page offset and size must not be negative.")
    return offset, min(limit, MAX_PAGE)


def worker_state(row: dict[str, Any], now: float) -> str:
    """idle, busy, stopped or dead, from a worker row and its consumer's heartbeat."""
    if row.get("consumer_stopped_at"):
        return "stopped"
    beat = max(row.get("last_beat") or 0, 0)
    if now - beat > STALE_AFTER_S or now - (row.get("consumer_beat") or 0) > STALE_AFTER_S:
        return "dead"
    return row.get("state") or "idle"


class Inspector:
    """Looks at a Huey queue and its journal without changing either."""

    def __init__(self, huey: Huey, journal: SqliteJournal, target: str = "") -> None:
        self.huey = huey
        self.journal = journal
        self.target = target
        db = sqlite_filename(huey)
        self._where = str(db) if db else repr(huey.name)
        self._sqlite = isinstance(huey.storage, SqliteStorage)

    # -- counts and pages --------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Pending, scheduled and stored results, each one indexed query."""
        storage = self.huey.storage
        pending = guarded(storage.queue_size, self._where)
        scheduled = guarded(storage.schedule_size, self._where)
        if self._sqlite:
            results = guarded(
                lambda: storage.sql(
                    "SELECT count(*) FROM kv WHERE queue = ? AND key NOT LIKE 'r:%' "
                    "AND instr(key, '.') = 0",
                    (storage.name,),
                    results=True,
                )[0][0],
                self._where,
            )
        else:
            results = guarded(storage.result_store_size, self._where)
        return {"pending": pending, "scheduled": scheduled, "results": results}

    def pending(self, offset: int = 0, limit: int = 100) -> list[QueuedTask]:
        """One page of the queue in the order the consumer will take it."""
        return self._page(
            "SELECT data FROM task WHERE queue = ? ORDER BY priority DESC, id LIMIT ? OFFSET ?",
            self.huey.storage.enqueued_items,
            offset,
            limit,
        )

    def scheduled(self, offset: int = 0, limit: int = 100) -> list[QueuedTask]:
        """One page of the schedule, soonest first."""
        return self._page(
            "SELECT data FROM schedule WHERE queue = ? ORDER BY timestamp, id LIMIT ? OFFSET ?",
            self.huey.storage.scheduled_items,
            offset,
            limit,
        )

    def _page(self, sql: str, items: Any, offset: int, limit: int) -> list[QueuedTask]:
        """A page read with ``sql`` from SQLite, or sliced from ``items(n)`` elsewhere."""
        offset, limit = _page(offset, limit)
        storage = self.huey.storage
        if self._sqlite:
            rows = guarded(
                lambda: storage.sql(sql, (storage.name, limit, offset), results=True),
                self._where,
            )
            blobs = [r[0] for r in rows]
        else:
            blobs = guarded(lambda: items(offset + limit), self._where)[offset:]
        return self._with_enqueue_times(
            [QueuedTask.from_view(decode_message(self.huey.serializer, b)) for b in blobs]
        )

    def revoked(self, task_ids: list[str]) -> set[str]:
        """Which of these tasks are revoked (one indexed read on SQLite)."""
        ids = [i for i in task_ids if i]
        if not ids:
            return set()
        storage = self.huey.storage
        if not self._sqlite:
            return {i for i in ids if guarded(lambda i=i: self.huey.is_revoked(i), self._where)}
        keys = [f"r:{i}" for i in ids]
        rows = guarded(
            lambda: storage.sql(
                f"SELECT key FROM kv WHERE queue = ? AND key IN ({','.join('?' * len(keys))})",
                (storage.name, *keys),
                results=True,
            ),
            self._where,
        )
        return {r[0][2:] for r in rows}

    def _with_enqueue_times(self, tasks: list[QueuedTask]) -> list[QueuedTask]:
        ids = [t.id for t in tasks if t.id]
        if not ids:
            return tasks
        placeholders = ",".join("?" * len(ids))
        rows = (
            self.journal._conn()
            .execute(
                f"SELECT task_id, enqueued_at FROM tasks WHERE task_id IN ({placeholders})", ids
            )
            .fetchall()
        )
        times = dict(rows)
        for t in tasks:
            t.enqueued_at = times.get(t.id)
        return tasks

    def peek_result(self, task_id: str) -> Decoded | None:
        """The stored result of ``task_id``, left in place; None if there is none."""
        raw = guarded(lambda: self.huey.storage.peek_data(task_id), self._where)
        if raw is EmptyData or raw is None:
            return None
        return decode(self.huey.serializer, raw)

    # -- status ------------------------------------------------------------------------
    def workers(self) -> list[dict[str, Any]]:
        """Workers of recent consumers, live ones first.

        A stopped or dead consumer's workers are left out when a live consumer of the
        same host and target has workers of the same names (a restart, or a restart after
        a crash or a kill): listed side by side, the old Worker-1 and the new one could
        not be told apart.  What the dead one ran is in the tasks, marked interrupted.
        """
        now = time.time()
        targets = {c["consumer_id"]: c.get("target") for c in self.journal.consumers()}
        rows = []
        for row in self.journal.workers():
            if now - (row.get("consumer_beat") or 0) > FORGET_AFTER_S:
                continue
            state = worker_state(row, now)
            if state == "stopped" and now - (row.get("consumer_beat") or 0) > FORGET_STOPPED_S:
                continue  # a consumer stopped on purpose: nothing to look at after a while
            rows.append((row, state, (row["host"], targets.get(row["consumer_id"]), row["name"])))
        live = {key for _row, state, key in rows if state in ("idle", "busy")}
        out = []
        for row, state, key in rows:
            if state in ("stopped", "dead") and key in live:
                continue  # replaced by a live consumer's worker of the same name
            busy = state == "busy"
            out.append(
                {
                    "consumer": row["consumer_id"],
                    "host": row["host"],
                    "name": row["name"],
                    "pid": row["pid"],
                    "state": state,
                    "task_id": row["task_id"] if busy else None,
                    "task": row["task_name"] if busy else None,
                    "since": row["since"],
                    "last_beat": row["last_beat"],
                }
            )
        out.sort(key=lambda w: w["state"] not in ("busy", "idle"))  # live ones first
        return out

    def status(self, counts: dict[str, int] | None = None) -> dict[str, Any]:
        """Queue counts, workers and task-state counts, as one JSON-safe object.

        ``counts``: queue counts read earlier (counting a big queue is the costly part).
        """
        counts = counts if counts is not None else self.counts()
        states = self.journal.state_counts()
        live = self.journal.live_consumers()
        running = [t for t in self.journal.running_tasks() if t["consumer"] in live]
        orphaned = states.get(EXECUTING, 0) - len(running)
        final = {s: states.get(s, 0) for s in REPORTED_STATES}
        for state in FINAL_STATES:
            if states.get(state):
                final[state] = states[state]
        # A task that started and never ended while its consumer is gone was interrupted.
        final[INTERRUPTED] += max(orphaned, 0)
        return {
            "target": self.target,
            "queue": self.huey.name,
            "database": self._where,
            "journal": str(self.journal.path),
            "pending": counts["pending"],
            "scheduled": counts["scheduled"],
            "results": counts["results"],
            "running": len(running),
            "workers": self.workers(),
            "counts": final,
            "states": states,  # every state, as the journal counts them (transient too)
            "host": socket.gethostname(),
        }

    def estimate_start(self, task_name: str) -> float | None:
        """Seconds until a task enqueued now is likely to start: the work ahead of it
        (pending tasks times their typical duration) shared by the live workers.  None
        when there is no history to go by."""
        pending = self.counts()["pending"]
        if pending == 0:
            return 0.0
        typical = self.journal.typical_duration(task_name) or self.journal.typical_duration()
        if typical is None:
            return None
        workers = sum(1 for w in self.workers() if w["state"] in ("idle", "busy"))
        return pending * typical / max(workers, 1)

    # -- one task ----------------------------------------------------------------------
    def resolve_id(self, task_id: str) -> str:
        """A full task id from a full one or an unambiguous prefix of one in the journal."""
        if not isinstance(task_id, str) or not task_id.strip():
            raise UserError("Give a task id.")
        task_id = task_id.strip()
        if self.journal.task(task_id) is not None:
            return task_id
        if len(task_id) < 4:
            return task_id  # too short to stand for a prefix
        matches = self.journal.find_tasks(task_id, limit=5)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UserError(
                f"Task id {task_id!r} is ambiguous; it starts "
                f"{', '.join(matches[:3])}; give more of it."
            )
        return task_id

    def show(self, task_id: str) -> dict[str, Any]:
        """Everything known of one task: journal record, events, queue entry, result."""
        task_id = self.resolve_id(task_id)
        record = self.journal.task(task_id)
        events = self.journal.events_for(task_id)
        result = self.peek_result(task_id)
        queued = None
        if record is None or record["state"] in ("enqueued", "scheduled", "revoked"):
            queued = self._find_queued(task_id)
        if record is None and result is None and queued is None:
            hint = "; give at least 4 characters of an id" if len(task_id) < 4 else ""
            raise UserError(f"No task {task_id!r} in the queue, the results or the journal{hint}.")
        out: dict[str, Any] = {
            "id": task_id,
            "task": (record or {}).get("task_name") or (queued.name if queued else None),
            "state": (record or {}).get("state") or ("enqueued" if queued else "complete"),
            "args": None,
            "kwargs": None,
            "args_preview": None,
            "result": None,
            "error": None,
            "traceback": None,
        }
        if record is not None:
            for key in (
                "enqueued_at",
                "started_at",
                "finished_at",
                "duration",
                "worker",
                "pid",
                "consumer",
                "attempts",
                "retries",
                "priority",
                "progress",
                "progress_message",
                "retry_of",
                "eta",
                "result_preview",
            ):
                out[key] = record[key]
            out["args_preview"] = record["args_preview"]
            if record["args_exact"]:
                out["args"], out["kwargs"] = record["args"], record["kwargs"]
            out["error"], out["traceback"] = record["error"], record["traceback"]
            if (
                record["state"] == EXECUTING
                and record["consumer"] not in self.journal.live_consumers()
            ):
                out["state"] = INTERRUPTED
                out["error"] = "interrupted: its consumer is gone"
        if queued is not None:
            out["queued"] = queued.as_dict()
            out["args_preview"] = out["args_preview"] or queued.args_preview
        if result is not None:
            value = result.value
            if result.ok and isinstance(value, Error) and isinstance(value.metadata, dict):
                meta = value.metadata
                if record is None:
                    out["state"] = ERROR
                out["error"] = out["error"] or str(meta.get("error"))
                out["traceback"] = out["traceback"] or str(meta.get("traceback"))
            elif result.ok:
                out["result"] = jsonsafe.encode(value)[0]
            else:
                out["result"] = {"$undecodable": result.error}
        out["events"] = [e.as_dict() for e in events]
        return out

    def _find_queued(self, task_id: str, scan: int = 20_000) -> QueuedTask | None:
        """Look for ``task_id`` among the first ``scan`` pending and scheduled messages."""
        for page in (self.pending, self.scheduled):
            for offset in range(0, scan, MAX_PAGE):
                rows = page(offset, MAX_PAGE)
                for row in rows:
                    if row.id == task_id:
                        return row
                if len(rows) < MAX_PAGE:
                    break
        return None
