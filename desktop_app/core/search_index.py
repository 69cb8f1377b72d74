"""A substring index of the task history, so a text filter over a million tasks is a
lookup instead of a scan.

SQLite's FTS5 with the trigram tokenizer answers ``LIKE '%text%'`` from an index.  The
index lives in its own file beside the journal (``<journal>.search``) and is kept by the
window's monitor, not by the consumer: the consumer's writer stays as fast as before, and
a journal without a window costs nothing.  The monitor builds it a chunk at a time,
re-indexes the tasks that events touch, and catches up on start with the events written
while no window was open.  It covers one range of task rowids, ``low`` to ``high``, built
newest first: the tasks made since it started are added at the top, then it works down
through the older ones, so the recent history is searchable within seconds of a first
launch over a long one.  A search uses the index for the tasks it has covered and scans
only the rest; every candidate is checked again against the journal with the same test as
without the index, so the index can narrow a search but never change its answer.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from desktop_app.core.journal import SqliteJournal
from desktop_app.core.paths import ensure_private_file

# The columns a text filter looks in (as history.TEXT_COLUMNS), joined by a separator no
# typed text contains, so that no match spans two columns.
SEPARATOR = "\x1f"
MIN_CHARS = 3  # a trigram index finds nothing shorter; shorter text is scanned
CHUNK = 5000  # tasks indexed per step

_SCHEMA = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS idx USING fts5(body, tokenize='trigram', detail='none')",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


def index_path(journal_path: str | Path) -> Path:
    return Path(str(journal_path) + ".search")


def document(row: dict[str, Any], columns: Sequence[str]) -> str:
    return SEPARATOR.join(str(row.get(c) or "") for c in columns)


class SearchIndex:
    """Keeps ``<journal>.search`` in step with the journal's tasks (one thread uses it)."""

    def __init__(self, journal: SqliteJournal, columns: Sequence[str]) -> None:
        self.journal = journal
        self.columns = tuple(columns)
        self.path = index_path(journal.path)
        ensure_private_file(self.path)
        self._conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._conn.execute(statement)
        # Tasks low..high (rowids) have documents (none when high < low); events up to
        # ``event`` have been applied.  An index of an earlier version knew only ``upto``,
        # built oldest first: it covers 1..upto.
        self.built = self._meta("high", None) is not None or self._meta("upto") > 0
        self.high = self._meta("high", None) or self._meta("upto")
        self.low = self._meta("low", None) or 1
        self.event = self._meta("event")
        self._select = f"SELECT rowid, {', '.join(self.columns)} FROM tasks"

    # -- keeping it up to date ---------------------------------------------------------
    def catch_up(self, until: int | None = None, stop: Callable[[], bool] = bool) -> None:
        """On start: apply the events written while no window was open, up to event
        ``until`` (the monitor's cursor: it passes on everything after), or start again
        when the journal was replaced or its events pruned past what was applied."""
        conn = self.journal.connection()
        last_task = conn.execute("SELECT coalesce(max(rowid), 0) FROM tasks").fetchone()[0]
        first_event, last_event = conn.execute(
            "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM events"
        ).fetchone()
        until = last_event if until is None else min(until, last_event)
        replaced = self.high > last_task or self.event > last_event
        lost = first_event > self.event + 1 and self.high >= self.low
        if not self.built or replaced or lost:  # (re)built from the tasks as they are now
            self._reset(last_task, until)
            return
        while self.event < until and not stop():
            events = [e for e in self.journal.tail(self.event, 20_000) if e.id <= until]
            if not events:
                break
            touched = sorted({e.task_id for e in events if e.task_id})
            self.update(self.journal.tasks_by_ids(touched), events[-1].id)

    def step(self, limit: int = CHUNK) -> bool:
        """Index the next ``limit`` tasks not yet covered, the newest first: those made
        since the index started, then the older ones below it; False when all are."""
        conn = self.journal.connection()
        up = conn.execute(
            f"{self._select} WHERE rowid > ? ORDER BY rowid LIMIT ?", (self.high, limit)
        ).fetchall()
        down = []
        if len(up) < limit and self.low > 1:
            down = conn.execute(
                f"{self._select} WHERE rowid < ? ORDER BY rowid DESC LIMIT ?",
                (self.low, limit - len(up)),
            ).fetchall()
        if not up and not down:
            if self.low > 1:  # nothing left below: the older tasks were pruned
                with self._txn():
                    self._set(low=1)
            return False
        with self._txn():
            self._conn.executemany(
                "INSERT OR REPLACE INTO idx (rowid, body) VALUES (?, ?)",
                [(r[0], SEPARATOR.join(str(v or "") for v in r[1:])) for r in up + down],
            )
            if up:
                self._set(high=up[-1][0], low=min(self.low, up[0][0]))
            if down:
                self._set(low=down[-1][0])
        return len(up) + len(down) == limit

    def update(self, rows: Iterable[dict[str, Any]], event: int | None = None) -> None:
        """Index again the tasks just changed (rows with ``seq``).  Rows not covered yet
        are written too: ``step`` reaches them later and rewrites them from a newer read
        (one thread does both, in turn)."""
        docs = [(r["seq"], document(r, self.columns)) for r in rows if r.get("seq") is not None]
        if docs or event is not None:
            with self._txn():
                if docs:
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO idx (rowid, body) VALUES (?, ?)", docs
                    )
                if event is not None and event > self.event:
                    self._set(event=event)

    def close(self) -> None:
        self._conn.close()

    # -- bookkeeping -------------------------------------------------------------------
    def _meta(self, key: str, default: int | None = 0) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def _set(self, **values: int) -> None:
        for key, value in values.items():
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value",
                (key, value),
            )
            setattr(self, key, value)

    def _reset(self, last_task: int, event: int) -> None:
        """Start again from the tasks as they are: nothing covered, the top at the newest
        task now (``step`` works down from there, and up as tasks are made)."""
        with self._txn():
            self._conn.execute("DELETE FROM idx")
            self._conn.execute("DELETE FROM meta WHERE key = 'upto'")
            self._set(high=last_task, low=last_task + 1, event=event)
        self.built = True

    @contextlib.contextmanager
    def _txn(self):
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
