"""Reading the newest 1,000 events after a cursor, with 1,000,000 events stored.

Ours: ``SqliteJournal.tail(cursor, 1000)``, a range read on the primary key, returning
events whose JSON payload is parsed on first use; the figure with every payload parsed
is printed too.  Baseline in
the same run: the same page read with LIMIT/OFFSET counted from the start (how a reader
without a cursor pages), which walks every earlier row.  Goal: <= 5 ms median.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.common import median, percentile, report
from desktop_app.core.journal import SqliteJournal

KINDS = ("enqueued", "executing", "progress", "complete")


def fill(journal: SqliteJournal, events: int, chunk: int = 50_000) -> None:
    """Write ``events`` events straight into the events table (fast, realistic shapes)."""
    rng = random.Random(7)
    conn = journal._conn()
    now = time.time() - events / 1000
    written = 0
    while written < events:
        rows = []
        for i in range(min(chunk, events - written)):
            task = str(uuid.UUID(int=rng.getrandbits(128)))
            kind = KINDS[(written + i) % 4]
            data = (
                '{"progress":0.5,"progress_message":"half"}'
                if kind == "progress"
                else '{"args":[1,2],"kwargs":{},"args_exact":1,"args_preview":"1, 2"}'
            )
            rows.append(
                (
                    now + (written + i) / 1000,
                    kind,
                    task,
                    "tasks.demo.send_email",
                    4242,
                    "Worker-1",
                    data,
                )
            )
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events (ts, kind, task_id, task_name, pid, worker, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
        written += len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=50)
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="huey-desk-journal-") as tmp:
        journal = SqliteJournal(Path(tmp) / "journal.sqlite")
        started = time.perf_counter()
        fill(journal, ns.events)
        fill_s = time.perf_counter() - started
        last = journal.last_id()
        cursor = last - 1000
        ours, parsed, base = [], [], []
        conn = journal._conn()
        for _ in range(ns.repeats):
            t0 = time.perf_counter()
            page = journal.tail(cursor, 1000)
            ours.append((time.perf_counter() - t0) * 1000)
            assert len(page) == 1000 and page[0].id == cursor + 1
            t0 = time.perf_counter()
            payloads = [e.data for e in journal.tail(cursor, 1000)]
            parsed.append((time.perf_counter() - t0) * 1000)
            assert len(payloads) == 1000
            t0 = time.perf_counter()
            rows = conn.execute(
                "SELECT id, ts, kind, task_id, task_name, pid, worker, data "
                "FROM events ORDER BY id LIMIT 1000 OFFSET ?",
                (ns.events - 1000,),
            ).fetchall()
            base.append((time.perf_counter() - t0) * 1000)
            assert len(rows) == 1000
        journal.close()
    figures = {
        "tail_1000_ms": round(median(ours), 3),
        "tail_1000_p99_ms": round(percentile(ours, 99), 3),
        "tail_1000_parsed_ms": round(median(parsed), 3),
        "events": ns.events,
        "baseline_offset_ms": round(median(base), 3),
        "ratio": round(median(base) / median(ours), 1),
        "fill_s": round(fill_s, 1),
        "repeats": ns.repeats,
    }
    report(
        figures,
        ns.json,
        [
            f"journal with {ns.events:,} events (filled in {figures['fill_s']} s)",
            f"  tail 1,000 after a cursor: median {figures['tail_1000_ms']} ms, "
            f"p99 {figures['tail_1000_p99_ms']} ms (payloads parsed on first use)",
            f"  the same with every payload parsed: median {figures['tail_1000_parsed_ms']} ms",
            f"  baseline LIMIT/OFFSET page: median {figures['baseline_offset_ms']} ms "
            f"({figures['ratio']}x slower)",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
