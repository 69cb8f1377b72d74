"""Bulk retry and revoke: the tasks a filter (or a list of ids) selects, a chunk at a time.

A selection is read from the journal page by page (``Journal.task_page``), never whole,
fixed at the newest task when it is first read (``Journal.task_mark``) so that the
retries it makes, and tasks that fail meanwhile, are not taken in.  Each task goes
through the dispatcher's one rule for a single retry or revoke (kept messages, Django
carriers and all); a chunk's journal events are written in one batch.  A task that a
journalled retry already links to (``retry_of``) is skipped, so running the same bulk
retry twice, or again after it was cancelled, enqueues each task once.  Cancelling takes
effect between chunks, so what was done is done whole and journalled.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.dispatcher import Dispatcher, parse_eta
from desktop_app.core.errors import UserError
from desktop_app.core.history import TaskQuery
from desktop_app.core.states import (
    ENQUEUED,
    FINAL_STATES,
    RETRYING,
    SCHEDULED,
    from_label,
    label,
)

RETRY, REVOKE = "retry", "revoke"
# The states each action can take a task from: a retry runs an ended task again, a
# revoke stops one that still waits.
ACTION_STATES = {RETRY: FINAL_STATES, REVOKE: (ENQUEUED, SCHEDULED, RETRYING)}
CHUNK = 250  # tasks per chunk: one journal batch, one progress report, one cancel check
REFUSALS_KEPT = 20  # refusals kept with their reasons (the rest are counted)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_when(text: str, now: float | None = None) -> float:
    """A moment as a timestamp: a duration back from now (``90s``, ``30m``, ``1h``,
    ``2d``, ``1w``, or ``1h30m``) or a date and time (ISO, local time without a zone)."""
    cleaned = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"(?:\d+(?:\.\d+)?[smhdw])+", cleaned):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(cleaned))
        return (time.time() if now is None else now) - seconds
    try:
        moment = parse_eta(text)
    except UserError:
        raise UserError(
            f"{text!r} is neither a duration nor a time; use a form like 30m, 1h, 2d or "
            "2026-11-25T14:30."
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time, as a user typing it means
    return moment.timestamp()


@dataclass(frozen=True)
class Selection:
    """Which tasks: the ids given, or else every task matching the filter (the tasks
    table's: state, task name, free text; and when it reached its state)."""

    task_ids: tuple[str, ...] = ()
    state: str | None = None
    task_name: str | None = None
    text: str = ""
    since: float | None = None
    until: float | None = None

    @property
    def by_ids(self) -> bool:
        """Whether this selection is a list of ids rather than a filter."""
        return bool(self.task_ids)

    def describe(self) -> str:
        """The selection in words, for a confirmation or a summary."""
        if self.by_ids:
            n = len(dict.fromkeys(self.task_ids))
            return f"{n:,} selected task{'s' if n != 1 else ''}"
        parts = [label(self.state) if self.state else "all"]
        parts.append(f"{self.task_name.rsplit('.', 1)[-1]} tasks" if self.task_name else "tasks")
        if self.text:
            parts.append(f"matching {self.text!r}")
        if self.since is not None:
            parts.append(f"since {_clock(self.since)}")
        if self.until is not None:
            parts.append(f"until {_clock(self.until)}")
        return " ".join(parts)


def _clock(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def check_state(action: str, text: str | None) -> str | None:
    """The stored state for a state a user named for ``action`` (a word or a stored name),
    or a sentence saying which states the action takes."""
    if text is None:
        return None
    state = from_label(text)
    allowed = ACTION_STATES[action]
    if state not in allowed:
        words = ", ".join(label(s) for s in allowed)
        raise UserError(
            f"{text!r} is not a state tasks can be {'retried' if action == RETRY else 'revoked'}"
            f" from; use one of: {words}."
        )
    return state


@dataclass
class BulkProgress:
    """How far a bulk action is: tasks looked at of the total, and what became of them."""

    action: str
    total: int
    done: int = 0  # looked at: acted on, skipped or refused
    acted: int = 0  # retried or revoked
    skipped: int = 0  # already retried: a journalled retry links to it
    refused: int = 0  # the single action refused it (still running, arguments unknown...)
    reasons: list[tuple[str, str]] = field(default_factory=list)  # the first refusals
    cancelled: bool = False
    finished: bool = False

    def summary(self) -> str:
        """One line for a status bar or a terminal."""
        verb = "Retried" if self.action == RETRY else "Revoked"
        line = f"{verb} {self.acted:,} of {self.total:,} task{'s' if self.total != 1 else ''}"
        extra = []
        if self.skipped:
            extra.append(f"{self.skipped:,} already retried")
        if self.refused:
            first = self.reasons[0][1].rstrip(".") if self.reasons else ""
            extra.append(f"{self.refused:,} refused" + (f" ({first})" if first else ""))
        if self.cancelled:
            extra.append(f"cancelled after {self.done:,}")
        return line + ("; " + ", ".join(extra) if extra else "") + "."


class BulkAction:
    """Retry or revoke every task of a selection, in chunks, through one dispatcher."""

    def __init__(
        self, dispatcher: Dispatcher, action: str, selection: Selection, chunk: int = CHUNK
    ) -> None:
        if action not in ACTION_STATES:
            raise ValueError(f"not a bulk action: {action}")
        if dispatcher.journal is None:
            raise UserError("Bulk actions read the journal, and this queue has none.")
        if selection.state is not None and selection.state not in ACTION_STATES[action]:
            check_state(action, selection.state)  # raises the sentence
        self.dispatcher = dispatcher
        self.journal = dispatcher.journal
        self.action = action
        self.selection = selection
        self.chunk = chunk
        self.upto: Any = None  # the newest task when the selection was first read

    # -- reading the selection ------------------------------------------------------------
    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """The selection's summary rows, a chunk at a time (an empty chunk may come: a
        page read whose tasks did not match; it gives a caller the chance to stop)."""
        if self.upto is None:
            self.upto = self.journal.task_mark()
        sel = self.selection
        if sel.by_ids:
            ids = list(dict.fromkeys(sel.task_ids))
            for start in range(0, len(ids), self.chunk):
                part = ids[start : start + self.chunk]
                found = {r["task_id"]: r for r in self.journal.tasks_by_ids(part)}
                # an id the journal does not know is passed on: the single action says why
                yield [found.get(i, {"task_id": i, "state": None}) for i in part]
            return
        states = [sel.state] if sel.state else list(ACTION_STATES[self.action])
        text = TaskQuery(text=sel.text) if sel.text else None
        after: Any = None
        while True:
            rows, after = self.journal.task_page(
                states,
                task_name=sel.task_name,
                since=sel.since,
                until=sel.until,
                upto=self.upto,
                after=after,
                limit=self.chunk,
            )
            yield [r for r in rows if text is None or text.matches(r)]
            if after is None:
                return

    def count(self, cancelled: Callable[[], bool] | None = None) -> int:
        """How many tasks the selection holds (read page by page; fixes the selection)."""
        if self.selection.by_ids:
            self.upto = self.journal.task_mark()
            return len(dict.fromkeys(self.selection.task_ids))
        n = 0
        for rows in self.pages():
            n += len(rows)
            if cancelled is not None and cancelled():
                break
        return n

    def preview(self, limit: int = 20) -> list[dict[str, Any]]:
        """The first ``limit`` tasks of the selection (for ``--dry-run``)."""
        out: list[dict[str, Any]] = []
        for rows in self.pages():
            out.extend(rows[: limit - len(out)])
            if len(out) >= limit:
                break
        return out

    # -- acting ---------------------------------------------------------------------------
    def run(
        self,
        total: int | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> BulkProgress:
        """Act on every task of the selection; ``on_progress`` hears after each chunk and
        ``cancelled`` is asked before each.  ``total``: the count already made (else it is
        counted first).  Returns what was done."""
        if total is None:
            total = self.count()
        progress = BulkProgress(self.action, total)
        for rows in self.pages():
            if cancelled is not None and cancelled():
                progress.cancelled = True
                break
            if rows:
                self._chunk(rows, progress)
            if on_progress is not None:
                on_progress(progress)
        progress.total = max(progress.total, progress.done)  # tasks may have come since
        progress.finished = True
        if on_progress is not None:
            on_progress(progress)
        return progress

    def _chunk(self, rows: list[dict[str, Any]], progress: BulkProgress) -> None:
        """One chunk: each task through the single action, the chunk journalled at once."""
        retried: dict[str, str] = {}
        kept: set[str] = set()
        if self.action == RETRY:
            ids = [r["task_id"] for r in rows]
            retried = self.journal.retries_of(ids)
            kept = self.dispatcher.kept_among(ids)
        with self.dispatcher.batch():
            for row in rows:
                task_id = row["task_id"]
                progress.done += 1
                if task_id in retried:
                    progress.skipped += 1
                    continue
                try:
                    # a task not in the journal: the single rule says so
                    known = None if row.get("state") is None else _decoded(row)
                    if self.action == RETRY:
                        self.dispatcher.retry(task_id, known, kept=task_id in kept)
                    else:
                        self.dispatcher.revoke(task_id, known)
                except UserError as exc:
                    progress.refused += 1
                    if len(progress.reasons) < REFUSALS_KEPT:
                        progress.reasons.append((task_id, str(exc)))
                else:
                    progress.acted += 1


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A page's summary row as ``Journal.task`` gives it: arguments decoded."""
    record = dict(row)
    for column in ("args", "kwargs"):
        if isinstance(record.get(column), str):
            record[column] = json.loads(record[column])
    return record
