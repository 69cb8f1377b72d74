"""The thread that keeps the task history's search index in step (see search_index)."""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import Any

from desktop_app.core.history import TEXT_COLUMNS
from desktop_app.core.journal import SqliteJournal
from desktop_app.core.search_index import CHUNK, SearchIndex

logger = logging.getLogger("huey_desk.indexer")

IDLE_S = 0.2  # how long the thread waits for work when the index is complete
READER_CACHE_MB = 8


class Indexer:
    """Builds the index a chunk at a time and re-indexes the tasks events touch.

    A plain thread, not a QThread: it sends no signals, and SQLite does its work with
    the interpreter lock released.  ``touched`` is called from the monitor's thread.
    """

    def __init__(self, journal_path: str | Path, cursor: int) -> None:
        """``cursor``: the last event the monitor read before starting this; the
        catch-up stops there, and the monitor passes on every change after it."""
        self.journal_path = journal_path
        self.cursor = cursor
        self._changes: queue.SimpleQueue[tuple[list[dict[str, Any]], int]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="huey-desk-indexer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def touched(self, rows: list[dict[str, Any]], event: int) -> None:
        """Tasks changed by events up to ``event``: index them again."""
        self._changes.put((rows, event))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        journal = SqliteJournal(self.journal_path, cache_mb=READER_CACHE_MB)
        index: SearchIndex | None = None
        try:
            index = SearchIndex(journal, TEXT_COLUMNS)
            index.catch_up(self.cursor, self._stop.is_set)
            while not self._stop.is_set():
                rows: list[dict[str, Any]] = []
                event = None
                while not self._changes.empty():
                    batch, event = self._changes.get_nowait()
                    rows.extend(batch)
                if rows or event is not None:
                    index.update(rows, event)
                more = index.step(CHUNK // 5)  # ~30 ms a step: never a long lock
                if not more and not rows:
                    self._stop.wait(IDLE_S)
        except Exception:  # the window goes on; text filters scan instead
            logger.exception("the search index stopped")
        finally:
            if index is not None:
                index.close()
            journal.close()
