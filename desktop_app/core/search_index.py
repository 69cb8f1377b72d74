"""A substring index of the task history, so a text filter over a million tasks is a
lookup instead of a scan.

SQLite's FTS5 with the trigram tokenizer answers ``LIKE '%text%'`` from an index.  The
index lives in its own file beside the journal (``<journal>.search``) and is kept by the
window's monitor, not by the consumer: the consumer's writer stays as fast as before, and
a journal without a window costs nothing.  The monitor builds it a chunk at a time,
re-indexes the tasks that events touch, and catches up on start with the events written
while no window was open.  A search uses the index for the tasks it has covered and
scans only the rest; every candidate is checked again against the journal with the same
test as without the index, so the index can narrow a search but never change its answer.
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
        self.upto = self._meta("upto")  # every task up to this rowid has a document
        self.event = self._meta("event")  # events up to this id have been applied
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
        replaced = self.upto > last_task or self.event > last_event
        lost = first_event > self.event + 1 and self.upto > 0
        if self.upto == 0 or replaced or lost:  # (re)built from the tasks as they are now
            self._reset()
            self._set(event=until)
            return
        while self.event < until and not stop():
            events = [e for e in self.journal.tail(self.event, 20_000) if e.id <= until]
            if not events:
                break
            touched = sorted({e.task_id for e in events if e.task_id})
            self.update(self.journal.tasks_by_ids(touched), events[-1].id)

    def step(self, limit: int = CHUNK) -> bool:
        """Index the next ``limit`` tasks not yet covered; False when all are."""
        rows = (
            self.journal.connection()
            .execute(f"{self._select} WHERE rowid > ? ORDER BY rowid LIMIT ?", (self.upto, limit))
            .fetchall()
        )
        if not rows:
            return False
        with self._txn():
            self._conn.executemany(
                "INSERT OR REPLACE INTO idx (rowid, body) VALUES (?, ?)",
                [(r[0], SEPARATOR.join(str(v or "") for v in r[1:])) for r in rows],
            )
            self._set(upto=rows[-1][0])
        return len(rows) == limit

    def update(self, rows: Iterable[dict[str, Any]], event: int | None = None) -> None:
        """Index again the tasks just changed (rows with ``seq``).  Rows beyond ``upto``
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
    def _meta(self, key: str) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0

    def _set(self, **values: int) -> None:
        for key, value in values.items():
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value",
                (key, value),
            )
            setattr(self, key, value)

    def _reset(self) -> None:
        with self._txn():
            self._conn.execute("DELETE FROM idx")
            self._set(upto=0, event=0)

    @contextlib.contextmanager
    def _txn(self):
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
