"""Run-now with 100,000 tasks pending: how long the queue's write lock is held, and in all.

A SQLite queue holds N pending no-op tasks; each run submits one delayed task (the newest
row, so a scan meets it last) and brings it forward, alternately with the old algorithm
(decode every queued and scheduled message inside Huey's exclusive transaction, kept
here as the baseline) and with ``Dispatcher.run_now`` (plain reads, then one short
checked transaction).  The time inside write transactions is measured by wrapping the
storage's ``db`` context; medians over the runs, and the ratio new / old.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from huey import SqliteHuey
from huey.registry import Message
from huey.storage import SqliteStorage

from benchmarks.common import median, report
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.safe_decode import decode


class LockTimer:
    """Wraps ``storage.db``: adds up the time spent inside write transactions."""

    def __init__(self, storage: SqliteStorage) -> None:
        self.real = storage.db
        self.held = 0.0
        storage.db = self.db  # type: ignore[method-assign]

    @contextlib.contextmanager
    def db(self, commit: bool = False, close: bool = False) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            with self.real(commit=commit, close=close) as cursor:
                yield cursor
        finally:
            if commit:
                self.held += time.perf_counter() - started


def old_run_now(huey: SqliteHuey, task_id: str) -> None:
    """The algorithm before: every message decoded inside the exclusive transaction."""
    storage, serializer = huey.storage, huey.serializer
    with storage.db(commit=True) as cursor:
        for table in ("task", "schedule"):
            rows = cursor.execute(
                f"SELECT id, data FROM {table} WHERE queue = ?", (storage.name,)
            ).fetchall()
            for row_id, data in rows:
                decoded = decode(serializer, data)
                message = decoded.value
                if not isinstance(message, Message) or message.id != task_id:
                    continue
                if not decoded.ok or decoded.refused or decoded.tampered:
                    raise RuntimeError("unexpected message")
                blob = serializer.serialize(message._replace(eta=None))
                cursor.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
                cursor.execute(
                    "INSERT INTO task (queue, data, priority) VALUES (?, ?, ?)",
                    (storage.name, blob, message.priority or 0),
                )
                return
    raise RuntimeError(f"task {task_id} not found")


def _queue(path: Path, pending: int) -> tuple[SqliteHuey, Dispatcher]:
    huey = SqliteHuey("bench-run-now", filename=str(path))

    @huey.task()
    def nop(n: int = 0) -> None:
        """Does nothing."""

    storage = huey.storage
    blobs = [huey.serialize_task(nop.s(i)) for i in range(pending)]
    with storage.db(commit=True) as cursor:
        cursor.executemany(
            "INSERT INTO task (queue, data, priority) VALUES (?, ?, 0)",
            [(storage.name, b) for b in blobs],
        )
    return huey, Dispatcher(huey, None)


def _one(huey: SqliteHuey, dispatcher: Dispatcher, new: bool) -> tuple[float, float]:
    task_id = dispatcher.submit("nop", [1], delay=3600)
    timer = LockTimer(huey.storage)
    try:
        started = time.perf_counter()
        if new:
            dispatcher.run_now(task_id)
        else:
            old_run_now(huey, task_id)
        total = time.perf_counter() - started
    finally:
        huey.storage.db = timer.real  # type: ignore[method-assign]
    return timer.held, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5, help="runs of each, interleaved")
    ns = parser.parse_args(argv)
    held: dict[str, list[float]] = {"old": [], "new": []}
    total: dict[str, list[float]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="huey-desk-run-now-") as tmp:
        huey, dispatcher = _queue(Path(tmp) / "q.db", ns.pending)
        try:
            for _ in range(ns.runs):
                for kind in ("old", "new"):
                    h, t = _one(huey, dispatcher, kind == "new")
                    held[kind].append(h * 1000)
                    total[kind].append(t * 1000)
            assert huey.pending_count() == ns.pending + 2 * ns.runs
        finally:
            huey.storage.close()
    med = {
        f"{k}_{kind}_ms": round(median(v[kind]), 3)
        for k, v in (("held", held), ("total", total))
        for kind in v
    }
    figures = {
        **med,
        "held_ratio": round(med["held_new_ms"] / med["held_old_ms"], 5),
        "total_ratio": round(med["total_new_ms"] / med["total_old_ms"], 5),
        "pending": ns.pending,
        "runs": ns.runs,
        "all_held_old_ms": [round(x, 2) for x in held["old"]],
        "all_held_new_ms": [round(x, 3) for x in held["new"]],
    }
    report(
        figures,
        ns.json,
        [
            f"run-now with {ns.pending} pending, median of {ns.runs} runs each, interleaved",
            f"  old (decode all inside the write lock): lock held {med['held_old_ms']} ms, "
            f"total {med['total_old_ms']} ms",
            f"  new (read, then a short checked move)  : lock held {med['held_new_ms']} ms, "
            f"total {med['total_new_ms']} ms",
            f"  ratio new / old: lock held {figures['held_ratio']}, "
            f"total {figures['total_ratio']}",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
