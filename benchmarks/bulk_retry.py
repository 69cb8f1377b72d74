"""Bulk retry of 10,000 failed tasks from one call, against retrying them one by one.

Each repeat makes a fresh queue (a SQLite file, or a Redis database emptied first) and
journals N tasks that ran and failed, with their arguments recorded exactly as the
consumer's hooks record them (what a retry replays).  The baseline retries them one by
one through ``Dispatcher.retry`` (the single retry of the window's button and of
``huey-desk retry ID``); the bulk retry is one ``BulkAction(...).run()`` over the filter
"failed tasks of this task", in chunks.  After each, the queue is checked: N messages,
each the retry of a different failed task (its journalled ``retry_of``), and a second bulk
run enqueues nothing.  Medians over the repeats, and the ratio bulk / baseline.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from huey import RedisHuey, SqliteHuey

from benchmarks.common import RedisServer, median, report
from desktop_app.core.bulk import CHUNK, RETRY, BulkAction, Selection
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.journal import ENQUEUED, ERROR, EXECUTING, NewEvent, SqliteJournal
from desktop_app.core.recorder import encode_call
from desktop_app.core.states import ERROR as FAILED


def _queue(folder: Path, run: int, redis_url: str | None) -> tuple[Any, Any]:
    """A Huey with the task ``send_report`` and its journal, both empty."""
    if redis_url:
        from desktop_app.core.backends.redis.journal import RedisJournal

        huey: Any = RedisHuey("bench-bulk", url=redis_url)
        huey.storage.conn.flushdb()
        journal: Any = RedisJournal(huey.storage.pool, name="bench-bulk")
    else:
        huey = SqliteHuey("bench-bulk", filename=str(folder / f"q{run}.db"))
        journal = SqliteJournal(folder / f"q{run}.db.desk-journal")

    @huey.task()
    def send_report(user_id: int, fmt: str = "pdf") -> None:
        """Fails in the story this benchmark tells: it is never run here."""

    return huey, journal


def _fail(journal: Any, name: str, n: int) -> list[str]:
    """Journal ``n`` tasks that ran and failed, as the consumer's hooks would have."""
    ids = [f"failed-{i:06d}" for i in range(n)]
    now = time.time() - 60
    for start in range(0, n, 500):
        events = []
        for i in range(start, min(start + 500, n)):
            call = encode_call((i,), {"fmt": "csv"})
            events.append(NewEvent(ENQUEUED, ids[i], name, ts=now - 2, data=call))
            events.append(NewEvent(EXECUTING, ids[i], name, ts=now - 1, worker="Worker-1"))
            events.append(
                NewEvent(ERROR, ids[i], name, ts=now, data={"error": "SMTPError: refused"})
            )
        journal.append(events)
    return ids


def _check(huey: Any, journal: Any, ids: list[str]) -> int:
    """Every failed task is in the queue exactly once, as a retry of itself; returns
    how many messages the queue holds."""
    queued = [m.id for m in huey.pending()]
    assert len(queued) == len(set(queued)) == len(ids), (len(queued), len(set(queued)))
    rows = journal.tasks_by_ids(queued)
    links = collections.Counter(r["retry_of"] for r in rows)
    assert set(links) == set(ids) and set(links.values()) == {1}, "a task retried twice"
    return len(queued)


def _one(folder: Path, run: int, n: int, bulk: bool, chunk: int, redis_url: str | None) -> dict:
    huey, journal = _queue(folder, run, redis_url)
    try:
        name = next(iter(huey._registry._registry))
        ids = _fail(journal, name, n)
        dispatcher = Dispatcher(huey, journal)
        started = time.perf_counter()
        if bulk:
            action = BulkAction(dispatcher, RETRY, Selection(state=FAILED, task_name=name), chunk)
            result = action.run()
            assert (result.acted, result.refused) == (n, 0), result.summary()
        else:
            for task_id in ids:
                dispatcher.retry(task_id)
        seconds = time.perf_counter() - started
        queued = _check(huey, journal, ids)
        again = BulkAction(dispatcher, RETRY, Selection(state=FAILED, task_name=name), chunk)
        second = again.run()
        assert (second.acted, second.skipped) == (0, n), second.summary()
        assert huey.pending_count() == n
        return {"seconds": seconds, "queued": queued, "rerun_enqueued": second.acted}
    finally:
        journal.close()
        if redis_url:
            huey.storage.pool.disconnect()
        else:
            huey.storage.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--backend", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, interleaved")
    parser.add_argument("--chunk", type=int, default=CHUNK, help="tasks per chunk")
    ns = parser.parse_args(argv)
    times: dict[str, list[float]] = {"baseline": [], "bulk": []}
    checked: list[int] = []
    with tempfile.TemporaryDirectory(prefix="huey-desk-bulk-") as tmp:
        folder = Path(tmp)
        server = RedisServer(folder) if ns.backend == "redis" else None
        try:
            url = server.url if server else None
            for _ in range(ns.repeats):
                for kind in ("baseline", "bulk"):
                    out = _one(folder, len(checked), ns.tasks, kind == "bulk", ns.chunk, url)
                    times[kind].append(out["seconds"])
                    checked.append(out["queued"])
        finally:
            if server is not None:
                server.stop()
    base, bulk = median(times["baseline"]), median(times["bulk"])
    figures = {
        "backend": ns.backend,
        "tasks": ns.tasks,
        "chunk": ns.chunk,
        "repeats": ns.repeats,
        "baseline_s": round(base, 3),
        "bulk_s": round(bulk, 3),
        "baseline_tasks_per_s": round(ns.tasks / base),
        "bulk_tasks_per_s": round(ns.tasks / bulk),
        "ratio_bulk_to_baseline": round(bulk / base, 3),
        "enqueued_exactly_once": all(q == ns.tasks for q in checked),
        "all_baseline_s": [round(t, 3) for t in times["baseline"]],
        "all_bulk_s": [round(t, 3) for t in times["bulk"]],
    }
    report(
        figures,
        ns.json,
        [
            f"bulk retry of {ns.tasks:,} failed tasks ({ns.backend}), median of {ns.repeats} "
            f"runs each, interleaved",
            f"  baseline (Dispatcher.retry one by one): {base:.2f} s, "
            f"{figures['baseline_tasks_per_s']:,} tasks/s",
            f"  bulk (one call, chunks of {ns.chunk})      : {bulk:.2f} s, "
            f"{figures['bulk_tasks_per_s']:,} tasks/s",
            f"  ratio bulk / baseline: {figures['ratio_bulk_to_baseline']}",
            f"  every task enqueued exactly once (queue holds {ns.tasks:,}, each a retry of "
            f"a different task; a second run enqueued none): {figures['enqueued_exactly_once']}",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
