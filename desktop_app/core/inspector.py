"""Read-only views of a queue: counts, bounded pages, peeked results, status, one task.

Nothing here consumes anything: results are peeked (Huey's default read deletes them),
and messages are decoded by ``safe_decode``, never by ``pickle.loads``.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from huey import Huey
from huey.utils import Error

from desktop_app.core import jsonsafe
from desktop_app.core.backends import limits_note
from desktop_app.core.backends.reader import QueueReader, reader_for
from desktop_app.core.django_tasks import DJANGO_STATES, RECORD_KEY, django_view
from desktop_app.core.errors import UserError
from desktop_app.core.journal import (
    COMPLETE,
    ERROR,
    EXECUTING,
    EXPIRED,
    FINAL_STATES,
    INTERRUPTED,
    REVOKED,
    NewEvent,
    SqliteJournal,
)
from desktop_app.core.liveness import Liveness, host_name
from desktop_app.core.paths import queue_location, storage_location
from desktop_app.core.safe_decode import (
    Decoded,
    MessageView,
    decode,
    decode_message,
    is_pickling,
)
from desktop_app.core.states import WAITING_STATES
from desktop_app.core.storage_errors import guarded

MAX_PAGE = 1000
# Messages an id search decodes, in the queue and in the schedule, where SQL cannot look.
QUEUE_SCAN = 20_000
# Workers of consumers silent for longer than this are left out of the status.
FORGET_AFTER_S = 600.0  # a dead consumer's workers are listed this long
FORGET_STOPPED_S = 60.0  # a consumer stopped on purpose: its workers this long
REPORTED_STATES = (COMPLETE, ERROR, INTERRUPTED, REVOKED, EXPIRED)
# Journal tasks per waiting state that one reconcile() call looks at.
RECONCILE_BATCH = 200
# A journal state this much older than a stored result is stale, not late: Huey Desk's
# consumer writes its events within milliseconds, a consumer without hooks never does.
JOURNAL_LAG_S = 5.0
# Of those with a result, how many one call looks for in a queue that is not empty.
RECONCILE_QUEUE_LOOKS = 20
UNREPORTED = (
    "the journal did not hear how this task ended: it ran under a consumer that does not "
    "report to Huey Desk (the stock huey_consumer or run_huey); run huey-desk consumer "
    "instead, and the journal records every event."
)


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


class Inspector:
    """Looks at a Huey queue and its journal without changing either."""

    def __init__(self, huey: Huey, journal: SqliteJournal, target: str = "") -> None:
        self.huey = huey
        self.journal = journal
        self.target = target
        self._where = queue_location(huey)
        self.location = self._where  # the queue, as sentences name it
        self.reader = reader_for(huey)
        self._reconcile_after: dict[str, Any] = {}  # where reconcile() goes on, per state
        self._suspects: dict[str, str | None] = {}  # found ended once by reconcile()

    # -- counts and pages --------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Pending, scheduled and stored results, each one indexed query."""
        reader = self.reader
        return {
            "pending": guarded(reader.pending_count, self._where),
            "scheduled": guarded(reader.scheduled_count, self._where),
            "results": guarded(reader.results_count, self._where),
        }

    def pending(self, offset: int = 0, limit: int = 100) -> list[QueuedTask]:
        """One page of the queue in the order the consumer will take it."""
        return self._page(self.reader.pending_page, offset, limit)

    def scheduled(self, offset: int = 0, limit: int = 100) -> list[QueuedTask]:
        """One page of the schedule, soonest first."""
        return self._page(self.reader.scheduled_page, offset, limit)

    def _page(self, read: Any, offset: int, limit: int) -> list[QueuedTask]:
        offset, limit = _page(offset, limit)
        blobs = guarded(lambda: read(offset, limit), self._where)
        return self._with_enqueue_times(self._decoded(blobs))

    def _decoded(self, blobs: list[bytes]) -> list[QueuedTask]:
        return [QueuedTask.from_view(decode_message(self.huey.serializer, b)) for b in blobs]

    def revoked(self, task_ids: list[str]) -> set[str]:
        """Which of these tasks are revoked (one read)."""
        ids = [i for i in task_ids if i]
        if not ids:
            return set()
        return guarded(lambda: self.reader.revoked(ids), self._where)

    def _with_enqueue_times(self, tasks: list[QueuedTask]) -> list[QueuedTask]:
        ids = [t.id for t in tasks if t.id]
        if not ids:
            return tasks
        times = self.journal.enqueue_times(ids)
        for t in tasks:
            t.enqueued_at = times.get(t.id)
        return tasks

    def peek_result(self, task_id: str) -> Decoded | None:
        """The stored result of ``task_id``, left in place; None if there is none."""
        raw = guarded(lambda: self.reader.peek(task_id), self._where)
        if raw is None:
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
        live = Liveness(self.journal, host_name(), now)
        targets = {c["consumer_id"]: c.get("target") for c in self.journal.consumers()}
        rows = []
        for row in self.journal.workers():
            if now - (row.get("consumer_beat") or 0) > FORGET_AFTER_S:
                continue
            state = live.worker_state(row)
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

    def status(
        self, counts: dict[str, int] | None = None, with_notes: bool = False
    ) -> dict[str, Any]:
        """Queue counts, workers and task-state counts, as one JSON-safe object.

        ``gone`` sums up the consumers that are gone (dead, not stopped on purpose) whose
        workers are still listed, one entry each, for a one-line summary.

        ``counts``: queue counts read earlier (counting a big queue is the costly part).
        ``with_notes``: also say, in ``notes``, what the storage holds that the journal
        cannot explain (decodes the first page of the queue and of the schedule).
        """
        counts = counts if counts is not None else self.counts()
        states = self.journal.state_counts()
        live = Liveness(self.journal, host_name())
        workers = self.workers()
        running = [
            t for t in self.journal.running_tasks() if not live.consumer_gone(t["consumer"])
        ]
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
            "database": storage_location(self.huey),
            "journal": self.journal.location,
            "pending": counts["pending"],
            "scheduled": counts["scheduled"],
            "results": counts["results"],
            "running": len(running),
            "workers": workers,
            "gone": self._gone_consumers(workers, live),
            "counts": final,
            "states": states,  # every state, as the journal counts them (transient too)
            "host": host_name(),
            "notes": self._storage_notes(counts) if with_notes else [],
        }

    def _gone_consumers(
        self, workers: list[dict[str, Any]], live: Liveness
    ) -> list[dict[str, Any]]:
        """One entry per consumer that is gone whose workers are listed: host, pid, how
        many workers it ran (as registered, or as listed), why it counts as gone, and its
        last heartbeat."""
        consumers = {c["consumer_id"]: c for c in self.journal.consumers()}
        gone: dict[str, dict[str, Any]] = {}
        for w in workers:
            cid = w["consumer"]
            if w["state"] != "dead":
                continue
            if cid in gone:
                gone[cid]["workers"] += 1
                continue
            why = live.consumer_gone(cid)
            if why is None:
                continue  # the worker stopped beating; its consumer lives: listed alone
            info = consumers.get(cid, {})
            gone[cid] = {
                "consumer": cid,
                "host": info.get("host", w["host"]),
                "pid": info.get("pid", w["pid"]),
                "workers": 1,
                "size": info.get("workers"),  # as registered: some may be left out above
                "why": why,
                "last_beat": info.get("last_beat"),
            }
        for entry in gone.values():
            entry["workers"] = max(entry["workers"], entry.pop("size") or 0)
        return list(gone.values())

    def _storage_notes(self, counts: dict[str, int]) -> list[str]:
        """What status says of the storage: its limits here, then what it holds."""
        limits = limits_note(self.huey)
        return [limits, *self._queue_notes(counts)] if limits else self._queue_notes(counts)

    def _queue_notes(self, counts: dict[str, int]) -> list[str]:
        """What the storage holds that the journal cannot explain, read from the first
        page of the queue and of the schedule (the rest are not decoded, to stay fast)."""
        if not counts["pending"] and not counts["scheduled"]:
            return []
        rows = self.pending(0, MAX_PAGE) + self.scheduled(0, MAX_PAGE)
        looked = len(rows)
        total = counts["pending"] + counts["scheduled"]
        scope = "" if looked == total else f" of the first {looked}"
        notes = []
        tampered = sum(1 for r in rows if r.error and "tampered" in r.error)
        if tampered:
            notes.append(
                f"{tampered}{scope} queued message(s) fail their signature check (tampered); "
                "Huey will not run them."
            )
        unreadable = sum(1 for r in rows if r.error and "tampered" not in r.error)
        if unreadable:
            notes.append(
                f"{unreadable}{scope} queued message(s) hold data Huey Desk does not decode; "
                "their arguments are not shown."
            )
        unknown = sum(1 for r in rows if r.id and r.enqueued_at is None)
        if unknown:
            notes.append(
                f"{unknown}{scope} queued task(s) are not in the journal (enqueued without "
                "Huey Desk, or the journal was removed): when they were enqueued is not known."
            )
        return notes

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
    def resolve_id(self, task_id: str, must_exist: bool = False) -> str:
        """A full task id from a full one or an unambiguous prefix of one.

        The prefix is looked for in the journal, the stored results, the queue and the
        schedule, so that tasks enqueued without Huey Desk are found too.  An ambiguous
        prefix is refused with its candidates.  An unknown id is returned as given (the
        caller says it is not found), or refused at once with ``must_exist``: an action
        on a typo costs these look-ups, not a full ``show``.
        """
        if not isinstance(task_id, str) or not task_id.strip():
            raise UserError("Give a task id.")
        task_id = task_id.strip()
        if self.journal.task(task_id) is not None:
            return task_id
        if len(task_id) < 4:  # too short to stand for a prefix: only the id itself
            if (
                must_exist
                and self.peek_result(task_id) is None
                and self._find_queued(task_id) is None
            ):
                raise UserError(self._not_found(task_id))
            return task_id
        matches = set(self.journal.find_tasks(task_id, limit=5))
        if len(matches) < 2:
            matches |= self._result_ids(task_id, limit=5)
        if len(matches) < 2:
            matches |= {t.id for t in self._queued_with_prefix(task_id, limit=5) if t.id}
        if len(matches) == 1:
            return matches.pop()
        if len(matches) > 1:
            shown = sorted(matches)
            more = " and others" if len(shown) > 3 else ""
            raise UserError(
                f"Task id {task_id!r} is ambiguous: it could be {', '.join(shown[:3])}{more}; "
                "give more of it."
            )
        if must_exist:
            raise UserError(self._not_found(task_id))
        return task_id

    def _result_ids(self, prefix: str, limit: int) -> set[str]:
        """Ids of stored results that start with ``prefix`` (an indexed range on SQLite,
        a bounded scan elsewhere)."""
        return guarded(lambda: self.reader.result_ids(prefix, limit), self._where)

    def _queued_with_prefix(self, prefix: str, limit: int = 5) -> list[QueuedTask]:
        """Queued and scheduled messages whose id starts with ``prefix``.

        Message ids are inside pickles.  On SQLite with Huey's uncompressed serializer the
        id's text is in the blob as it is, so SQL picks the candidate rows over the whole
        queue and only those are decoded; otherwise the first ``QUEUE_SCAN`` messages of
        the queue and of the schedule are decoded (``queue_scan_bound`` says how far).
        """
        found: list[QueuedTask] = []
        if self._raw_ids_searchable():
            needle = prefix.encode("utf-8")
            blobs = guarded(lambda: self.reader.queued_containing(needle, QUEUE_SCAN), self._where)
            if blobs is not None:
                found = [t for t in self._decoded(blobs) if t.id and t.id.startswith(prefix)]
                return self._with_enqueue_times(found[:limit])
        for page in (self.pending, self.scheduled):
            for offset in range(0, QUEUE_SCAN, MAX_PAGE):
                rows = page(offset, MAX_PAGE)
                found += [r for r in rows if r.id and r.id.startswith(prefix)]
                if len(found) >= limit or len(rows) < MAX_PAGE:
                    break
        return found[:limit]

    def _raw_ids_searchable(self) -> bool:
        """True when a search of the raw queued bytes can find a message id: the storage
        can search (SQLite) and Huey's serializer pickles without compressing."""
        serializer = self.huey.serializer
        searchable = type(self.reader).queued_containing is not QueueReader.queued_containing
        return searchable and is_pickling(serializer) and not getattr(serializer, "comp", True)

    def queue_scan_bound(self) -> str | None:
        """How far an id search in the queue looks, when it does not look everywhere."""
        if self._raw_ids_searchable():
            return None
        counts = self.counts()
        if counts["pending"] <= QUEUE_SCAN and counts["scheduled"] <= QUEUE_SCAN:
            return None
        return (
            f"looked through the first {QUEUE_SCAN:,} of {counts['pending']:,} queued and "
            f"{counts['scheduled']:,} scheduled messages"
        )

    def show(self, task_id: str) -> dict[str, Any]:
        """Everything known of one task: journal record, events, queue entry, result."""
        task_id = self.resolve_id(task_id)
        record = self.journal.task(task_id)
        events = self.journal.events_for(task_id)
        result = self.peek_result(task_id)
        queued = None
        if record is None or record["state"] in ("enqueued", "scheduled", "revoked"):
            queued = self._find_queued(task_id)
        django = self.django_record(task_id)
        if record is None and result is None and queued is None and django is None:
            raise UserError(self._not_found(task_id))
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
            # the task that retried this one, if any (the link back from ``retry_of``)
            out["retried_as"] = self.journal.retries_of([task_id]).get(task_id)
            gone = Liveness(self.journal, host_name()).interrupted(record)
            if gone is not None:
                out["state"] = INTERRUPTED
                out["error"] = f"interrupted: {gone}"
        if queued is not None:
            out["queued"] = queued.as_dict()
            out["args_preview"] = out["args_preview"] or queued.args_preview
        stored_error = False
        if result is not None:
            value = result.value
            if result.ok and isinstance(value, Error) and isinstance(value.metadata, dict):
                meta = value.metadata
                stored_error = True
                if record is None:
                    out["state"] = ERROR
                out["error"] = out["error"] or str(meta.get("error"))
                out["traceback"] = out["traceback"] or str(meta.get("traceback"))
            elif result.ok:
                out["result"] = jsonsafe.encode(value)[0]
            else:
                out["result"] = {"$undecodable": result.error}
        if django is not None:
            self._add_django(out, django, record is None and queued is None)
        notes = []
        if queued is not None and queued.error:
            notes.append(f"the queued message: {queued.error}.")
        if record is None:
            notes.append(
                "the journal has no record of this task (enqueued without Huey Desk, or the "
                "journal was removed): its enqueue time, worker and history are not known."
            )
        elif (
            record["state"] in WAITING_STATES
            and result is not None
            and queued is None
            and time.time() - (record.get("state_ts") or 0) > JOURNAL_LAG_S
        ):
            # The journal still says waiting, but the task ran: storage knows more.
            out["state"] = ERROR if stored_error else COMPLETE
            notes.append(UNREPORTED)
        elif any(e.data.get("detected") == "storage" for e in events):
            notes.append(UNREPORTED)
        out["notes"] = notes
        out["events"] = [e.as_dict() for e in events]
        return out

    def django_record(self, task_id: str) -> dict[str, Any] | None:
        """The Django side of a django.tasks task (its ``djt.<id>`` record), or None."""
        found = self.peek_result(RECORD_KEY % task_id)
        return django_view(found.value) if found is not None and found.ok else None

    @staticmethod
    def _add_django(out: dict[str, Any], django: dict[str, Any], unjournalled: bool) -> None:
        """A django.tasks task: its Django status, its return value or errors."""
        out["django"] = jsonsafe.encode(django)[0]
        out["task"] = out["task"] or django["task"]
        if django["status"] == "SUCCESSFUL" and out["result"] is None:
            out["result"] = jsonsafe.encode(django["return_value"])[0]
        if django["errors"] and not out["error"]:
            out["error"] = django["errors"][-1]["exception"]
            out["traceback"] = django["errors"][-1]["traceback"]
        if unjournalled:
            out["state"] = DJANGO_STATES.get(django["status"], out["state"])

    # -- catching up with consumers that do not report ---------------------------------
    def reconcile(self, limit: int = RECONCILE_BATCH) -> int:
        """Journal the end of tasks that ran under a consumer without Huey Desk's hooks.

        Looks at up to ``limit`` journal tasks per waiting state (pending, scheduled),
        continuing where the last call stopped so that successive calls go round them
        all; those whose result is now stored and whose message is gone from the queue
        get a ``complete`` or ``error`` event marked ``{"detected": "storage"}``.  A task
        is journalled when two calls in a row find it so: between them our own
        consumer's events (milliseconds behind its result) have arrived if they were
        coming.  Cheap when nothing waits (one read of the state counts).  Returns the
        events written.
        """
        suspects, self._suspects = self._suspects, {}
        counts = self.journal.state_counts()
        if not any(counts.get(state) for state in WAITING_STATES):
            return 0
        candidates: list[tuple[str, str | None]] = [
            (r["task_id"], r["task_name"])
            for r in self.journal.tasks_by_ids(list(suspects))
            if r["state"] in WAITING_STATES
        ]
        for state in WAITING_STATES:
            rows, self._reconcile_after[state] = self.journal.tasks_in_state(
                state, self._reconcile_after.get(state), limit
            )
            settled = time.time() - JOURNAL_LAG_S  # newer: our consumer's events may follow
            candidates += [
                (r["task_id"], r["task_name"])
                for r in rows
                if (r["state_ts"] or 0) < settled and r["task_id"] not in suspects
            ]
        stored = self._stored_results([task_id for task_id, _ in candidates])
        if not stored:
            return 0
        queue = self.counts()
        queue_empty = queue["pending"] + queue["scheduled"] == 0
        looks = RECONCILE_QUEUE_LOOKS  # each look may read the whole queue: a few per call
        events = []
        for task_id, name in candidates:
            raw = stored.get(task_id)
            if raw is None:
                continue  # not run yet
            if not queue_empty:
                if looks == 0:
                    break
                looks -= 1
                if self._find_queued(task_id) is not None:
                    continue  # waiting again: a retry keeps its id
            if task_id not in suspects:
                self._suspects[task_id] = name  # journalled if the next call finds it so
                continue
            decoded = decode(self.huey.serializer, raw)
            value = decoded.value
            data: dict[str, Any] = {"detected": "storage"}
            kind = COMPLETE
            if decoded.ok and isinstance(value, Error) and isinstance(value.metadata, dict):
                kind = ERROR
                data["error"] = str(value.metadata.get("error"))
                data["traceback"] = str(value.metadata.get("traceback"))
            elif decoded.ok:
                data["result_preview"] = jsonsafe.preview(value)
            events.append(NewEvent(kind, task_id, name, data=data))
        if events:
            self.journal.append(events)
        return len(events)

    def _stored_results(self, task_ids: list[str]) -> dict[str, bytes]:
        """The raw stored results of these tasks, those that have one (peeked)."""
        if not task_ids:
            return {}
        return guarded(lambda: self.reader.peek_many(task_ids), self._where)

    def _not_found(self, task_id: str) -> str:
        """The sentence for an id found nowhere, saying how far the queue was searched."""
        hint = "; give at least 4 characters of an id" if len(task_id) < 4 else ""
        bound = self.queue_scan_bound()
        scope = f" ({bound})" if bound else ""
        return f"No task {task_id!r} in the queue, the results or the journal{scope}{hint}."

    def _find_queued(self, task_id: str) -> QueuedTask | None:
        """The pending or scheduled message of ``task_id`` (see ``_queued_with_prefix``)."""
        for row in self._queued_with_prefix(task_id, limit=QUEUE_SCAN):
            if row.id == task_id:
                return row
        return None
