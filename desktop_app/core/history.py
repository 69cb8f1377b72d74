"""Task history as windowed, filtered pages read from the journal, newest first.

The window shows a million tasks without holding them: it asks for the rows it is about
to draw.  A query is fixed at an *anchor* (the newest task when it was opened), so row
numbers below the anchor stay put while new tasks arrive above it; the window shows
those separately, on top.  Filters run in SQLite: state and task name through their
indexes, free text through the search index where it has covered the history and as a
scan of the rest.  A first look at a free-text query may be bounded: it then scans only the
newest tasks the index has not covered and says how far down it looked (``Window.looked_from``),
so a window can show what it has found at once and the whole answer when the scan is done.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.core.journal import SqliteJournal
from desktop_app.core.search_index import MIN_CHARS

# Tasks a bounded first look scans at most (about 70 ms here; a million take 1.4 s).
SCAN_BOUND = 50_000
# Columns free text is looked for in: what the results table shows.
TEXT_COLUMNS = ("task_id", "task_name", "args_preview", "error", "result_preview", "worker")
# Map of ASCII upper to lower case: SQLite's LIKE folds only ASCII, so do we.
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def clean_text(text: str) -> str:
    """Filter text SQLite can take: no NUL (it ends a LIKE pattern early), no lone
    surrogates (they cannot be encoded)."""
    text = text.replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(text) else text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# Columns the tasks table can be sorted by (a whitelist: these names go into SQL).
SORT_COLUMNS = frozenset(
    ("state", "task_name", "args_preview", "worker", "started_at", "duration", "error", "task_id")
)


@dataclass(frozen=True)
class TaskQuery:
    """Which tasks to show: one state (or all), one task name (or all), free text, those
    that reached their state since a moment (``since``, a timestamp, or None); and in
    which order (``order``: a column of ``SORT_COLUMNS``, or None for creation order)."""

    state: str | None = None
    task_name: str | None = None
    text: str = ""
    order: str | None = None
    descending: bool = True
    since: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", clean_text(self.text))
        if self.order is not None and self.order not in SORT_COLUMNS:
            raise ValueError(f"cannot sort tasks by {self.order!r}")

    @property
    def live(self) -> bool:
        """Whether new tasks belong on top (newest first); a sorted view is a snapshot."""
        return self.order is None and self.descending

    def order_by(self, reverse: bool = False) -> str:
        """The ORDER BY of this query's rows (``reverse``: read from the other end)."""
        down = self.descending != reverse
        direction = "DESC" if down else "ASC"
        if self.order is None:
            return f"seq {direction}"
        return f"{self.order} {direction}, seq {direction}"

    @property
    def counted(self) -> bool:
        """Whether the number of matches is known without a scan."""
        return not self.text and self.task_name is None and self.since is None

    def matches(self, row: dict[str, Any]) -> bool:
        """The same test as the SQL, for rows that arrive live."""
        if self.state is not None and row.get("state") != self.state:
            return False
        if self.task_name is not None and row.get("task_name") != self.task_name:
            return False
        if self.since is not None and (row.get("state_ts") or 0) < self.since:
            return False
        if self.text:
            needle = self.text.translate(_ASCII_LOWER)
            return any(
                needle in str(row.get(c) or "").translate(_ASCII_LOWER) for c in TEXT_COLUMNS
            )
        return True

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if self.state is not None:
            clauses.append("state = ?")
            args.append(self.state)
        if self.task_name is not None:
            clauses.append("task_name = ?")
            args.append(self.task_name)
        if self.since is not None:
            clauses.append("state_ts >= ?")
            args.append(self.since)
        if self.text:
            pattern = "%" + _escape(self.text) + "%"
            clauses.append(
                "(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in TEXT_COLUMNS) + ")"
            )
            args.extend([pattern] * len(TEXT_COLUMNS))
        return (" AND ".join(clauses) or "1"), args


@dataclass
class Window:
    """An opened query: its anchor, how many tasks match up to it (None: not counted
    yet), and its first page.  ``looked_from``: None when the first page is the answer's,
    else the rowid a bounded look stopped at (older tasks not looked at yet), with
    ``tasks`` the tasks up to the anchor, for saying how far that is."""

    query: TaskQuery
    anchor: int
    total: int | None
    first: list[dict[str, Any]]
    looked_from: int | None = None
    tasks: int = 0

    @property
    def partial(self) -> bool:
        return self.looked_from is not None

    @property
    def looked_at(self) -> int:
        """How many of the newest tasks the answer covers."""
        if self.looked_from is None:
            return self.tasks
        return max(0, min(self.tasks, self.anchor - self.looked_from + 1))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _rows(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


class History:
    """Reads windows of task summaries from a journal (one per reading thread).

    With ``search`` (the file a ``SearchIndex`` keeps), free text of three characters
    or more is looked up in that index for the tasks it covers and scanned for the rest.
    """

    def __init__(self, journal: SqliteJournal, search: Path | None = None) -> None:
        self.journal = journal
        self.search = search
        self._attached: set[int] = set()

    def _conn(self) -> sqlite3.Connection:
        conn = self.journal.connection()
        if self.search is not None and id(conn) not in self._attached and self._ready():
            try:
                conn.execute("ATTACH DATABASE ? AS search", (str(self.search),))
            except sqlite3.Error:
                pass  # no index yet (or unreadable): scan
            else:
                self._attached.add(id(conn))
        return conn

    def _ready(self) -> bool:
        """Whether the index file exists and has its tables.  An empty file attached
        stays empty for that connection (seen: "no such table" long after the index
        had made it), so a connection attaches only once there is something to see."""
        assert self.search is not None
        if not self.search.is_file():  # never made here: the index makes it, private
            return False
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.search}?mode=ro", uri=True)
            ) as probe:
                return probe.execute("SELECT 1 FROM meta LIMIT 1").fetchone() is not None
        except sqlite3.Error:
            return False

    def _indexed(self, conn: sqlite3.Connection, query: TaskQuery) -> tuple[int, int, int]:
        """Which tasks the index answers for this query's text: rowids ``low`` to
        ``high`` (none when high < low), and the last event its documents reflect (tasks
        changed since are looked at too)."""
        none = (1, 0, 0)
        if id(conn) not in self._attached or len(query.text) < MIN_CHARS:
            return none
        if "%" in query.text or "_" in query.text:
            return none
        try:
            meta = dict(conn.execute("SELECT key, value FROM search.meta").fetchall())
        except sqlite3.Error:
            return none
        if "high" not in meta:  # an index of an earlier version: 1..upto, oldest first
            return 1, meta.get("upto", 0), meta.get("event", 0)
        return meta.get("low", 1), meta["high"], meta.get("event", 0)

    def _select(
        self,
        conn: sqlite3.Connection,
        query: TaskQuery,
        what: str,
        anchor: int,
        bound: int | None = None,
    ) -> tuple[str, list[Any], int]:
        """The SELECT of ``what`` over the query's tasks up to ``anchor``: one scan, or the
        index's candidates (checked again) and a scan of the tasks outside the index.
        ``bound``: scan no further down than this many tasks outside the index (a bounded
        look).  Also returns the rowid the answer covers down to (1: all)."""
        where, args = query.where()
        low, high, event = self._indexed(conn, query)
        high = min(high, anchor)
        if high < low:  # no index for this text
            bottom = 1 if bound is None else max(1, anchor - bound + 1)
            sql = f"SELECT {what} FROM tasks WHERE rowid <= ? AND rowid >= ? AND {where}"
            return sql, [anchor, bottom, *args], bottom
        above = anchor - high  # made since the index's top: scanned
        if bound is not None and above >= bound:  # the bound is spent above the index
            bottom = anchor - bound + 1
            sql = f"SELECT {what} FROM tasks WHERE rowid <= ? AND rowid >= ? AND {where}"
            return sql, [anchor, bottom, *args], bottom
        bottom = 1 if bound is None else max(1, low - (bound - above))
        pattern = "%" + query.text + "%"
        # Candidates: the index's, and every covered task changed after the last event
        # the index has applied (its document may be stale); then the tasks above the
        # index (made since it started) and below it (not reached yet), scanned.
        sql = (
            f"SELECT {what} FROM tasks WHERE rowid IN (SELECT rowid FROM search.idx "
            f"WHERE body LIKE ? AND rowid BETWEEN ? AND ? UNION SELECT t.rowid FROM events e "
            f"JOIN tasks t ON t.task_id = e.task_id WHERE e.id > ? AND t.rowid BETWEEN ? AND ?) "
            f"AND {where} "
            f"UNION ALL SELECT {what} FROM tasks WHERE rowid > ? AND rowid <= ? AND {where} "
            f"UNION ALL SELECT {what} FROM tasks WHERE rowid < ? AND rowid >= ? AND {where}"
        )
        return (
            sql,
            [pattern, low, high, event, low, high, *args, high, anchor, *args, low, bottom, *args],
            bottom,
        )

    def open(self, query: TaskQuery, page: int = 200, bound: int | None = None) -> Window:
        """Fix the anchor, count the matches when an index or the counts table can, and
        read the first page: one read transaction, so all three agree.

        ``bound``: for free text in the newest-first order, look at no more than this
        many tasks outside the search index; when that leaves the first page short and
        older tasks unlooked at, the window says so (``looked_from``)."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            # two subqueries: SQLite answers a lone max() or min() from the b-tree's end,
            # but both in one SELECT scan the table (150 ms at a million tasks)
            anchor, oldest = conn.execute(
                "SELECT coalesce((SELECT max(rowid) FROM tasks), 0), "
                "coalesce((SELECT min(rowid) FROM tasks), 1)"
            ).fetchone()
            total: int | None = None
            if query.counted:
                if query.state is None:
                    row = conn.execute("SELECT coalesce(sum(n), 0) FROM task_counts").fetchone()
                else:
                    row = conn.execute(
                        "SELECT coalesce(sum(n), 0) FROM task_counts WHERE state = ?",
                        (query.state,),
                    ).fetchone()
                total = row[0]
            if not (query.text and query.live):
                bound = None  # a sorted page needs every match: no bounded look
            first, bottom = self._first(conn, query, anchor, page, total, bound)
        finally:
            conn.execute("COMMIT")
        looked_from = bottom if len(first) < page and bottom > oldest else None
        if total is None and len(first) < page and looked_from is None:
            total = len(first)
        return Window(query, anchor, total, first, looked_from, max(0, anchor - oldest + 1))

    def _first(
        self,
        conn: sqlite3.Connection,
        query: TaskQuery,
        anchor: int,
        limit: int,
        total: int | None,
        bound: int | None,
    ) -> tuple[list[dict[str, Any]], int]:
        select, args, bottom = self._select(conn, query, "rowid AS seq, *", anchor, bound)
        cur = conn.execute(
            f"{select} ORDER BY {query.order_by()} LIMIT ? OFFSET 0", (*args, limit)
        )
        return _rows(cur), bottom

    def count(self, query: TaskQuery, anchor: int) -> int:
        """How many tasks up to the anchor match (a scan when free text is given and
        the index cannot answer)."""
        conn = self._conn()
        sql, args, _bottom = self._select(conn, query, "1", anchor)
        return conn.execute(f"SELECT count(*) FROM ({sql})", args).fetchone()[0]

    def page(
        self, query: TaskQuery, anchor: int, offset: int, limit: int, total: int | None = None
    ) -> list[dict[str, Any]]:
        """Rows ``offset`` to ``offset + limit`` of the window, in the query's order."""
        return self._page(self._conn(), query, anchor, offset, limit, total)

    def _page(
        self,
        conn: sqlite3.Connection,
        query: TaskQuery,
        anchor: int,
        offset: int,
        limit: int,
        total: int | None,
    ) -> list[dict[str, Any]]:
        select, args, _bottom = self._select(conn, query, "rowid AS seq, *", anchor)
        if total is not None and offset > total // 2:
            # Nearer the oldest end: count from there, so no page skips more than half.
            start = max(total - offset - limit, 0)
            count = min(limit, total - offset)
            if count <= 0:
                return []
            cur = conn.execute(
                f"{select} ORDER BY {query.order_by(reverse=True)} LIMIT ? OFFSET ?",
                (*args, count, start),
            )
            return _rows(cur)[::-1]
        cur = conn.execute(
            f"{select} ORDER BY {query.order_by()} LIMIT ? OFFSET ?", (*args, limit, offset)
        )
        return _rows(cur)
