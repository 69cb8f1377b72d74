"""A local SQLite copy of a shared journal, fed by cursor, for the window's history.

Redis is where consumers on several machines meet, but it is not a query engine: the
tasks table filters, sorts and searches a million tasks in SQLite (``history``,
``search_index``).  A window on a Redis-backed queue therefore keeps a copy of the
shared journal in a file of its own and reads the history there; Redis stays the source
of truth.  Each sync reads the events after the stored cursor (paying for new events
only), fetches the summaries of the tasks they touched, and writes both, with the new
cursor, in one local transaction.

A shared journal can be emptied under the copy: FLUSHDB, or a Redis restarted without
persistence.  Its stream ids then start again from the clock, past the stored cursor,
so the cursor alone cannot tell; every sync first compares the source's ``epoch()`` (a
random id the journal gets when it is made) with the one the copy was made from, and on
a change empties the copy and starts again from the beginning of the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from desktop_app.core.journal import Cursor, Journal, SqliteJournal

BATCH = 5000


@dataclass
class SyncReport:
    """What one ``sync`` call copied."""

    events: int = 0
    tasks: int = 0
    caught_up: bool = True
    # the copy held rows of an earlier epoch of the source and was emptied (nothing was
    # copied by this call: a search index over the copy must be rebuilt before the next)
    reset: bool = False
    task_ids: list[str] = field(default_factory=list)  # the tasks whose summaries it copied


class JournalMirror:
    """Copies ``source`` into ``local`` by cursor (one copy per source location)."""

    def __init__(self, source: Journal, local: SqliteJournal) -> None:
        self.source = source
        self.local = local
        self.key = source.location
        self._cursor: Cursor | None = None
        self._epoch: str | None = None
        self._loaded = False

    @property
    def cursor(self) -> Cursor:
        """The source cursor everything up to which is copied."""
        if not self._loaded:
            stored = self.local.mirrored_cursor(self.key)
            self._cursor = self.source.START if stored is None else stored
            self._epoch = self.local.mirrored_epoch(self.key)
            self._loaded = True
        return self._cursor

    def _restarted(self) -> bool:
        """Start the copy again if the source is not the one it was made from; True when
        rows of the old one were thrown away."""
        cursor = self.cursor
        epoch = self.source.epoch()
        if epoch == self._epoch:
            return False
        self.local.restart_mirror(self.key, epoch)
        self._epoch, self._cursor = epoch, self.source.START
        return cursor != self.source.START  # (a first copy only records the epoch)

    def sync(self, batch: int = BATCH) -> SyncReport:
        """Copy up to ``batch`` new events and the summaries of the tasks they touched
        (or, when the source was emptied, empty the copy and copy nothing yet)."""
        if self._restarted():
            return SyncReport(caught_up=False, reset=True)
        events = self.source.tail(self.cursor, batch)
        if not events:
            return SyncReport()
        touched = sorted({e.task_id for e in events if e.task_id})
        rows = self.source.tasks_by_ids(touched) if touched else []
        cursor = events[-1].cursor
        self.local.mirror(self.key, events, rows, cursor)
        self._cursor = cursor
        return SyncReport(len(events), len(rows), len(events) < batch, task_ids=touched)

    def sync_all(self, batch: int = BATCH, max_batches: int | None = None) -> SyncReport:
        """Sync until caught up (or ``max_batches`` batches); the totals copied."""
        total = SyncReport()
        done = 0
        while max_batches is None or done < max_batches:
            report = self.sync(batch)
            total.events += report.events
            total.tasks += report.tasks
            total.reset = total.reset or report.reset
            total.task_ids += report.task_ids
            done += 1
            if report.caught_up:
                return total
        total.caught_up = False
        return total
