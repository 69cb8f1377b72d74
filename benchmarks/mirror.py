"""The window's local copy of a shared journal: how long the first sync and a live one take.

A Redis journal holding ``--tasks`` finished tasks (four events each) is copied into a
fresh local SQLite file with ``JournalMirror.sync_all`` (the first launch of a window on
that queue), then 1,000 new events are synced as a running window would.  The baseline,
in the same run, is the same copy from a SQLite journal (no network, no decoding of
stream entries): the ratio says what Redis adds.  Medians over ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import median, report
from benchmarks.redis_journal import batches, start_server
from desktop_app.core.journal import Journal, SqliteJournal
from desktop_app.core.mirror import JournalMirror


def fill(journal: Journal, tasks: int) -> None:
    for batch in batches(tasks * 4 // 50):
        journal.append(batch)


def first_and_live(source: Journal, folder: Path, run: int) -> tuple[float, float, int]:
    local = SqliteJournal(folder / f"local-{id(source)}-{run}.sqlite")
    mirror = JournalMirror(source, local)
    t0 = time.perf_counter()
    copied = mirror.sync_all().events
    first = time.perf_counter() - t0
    for batch in batches(20):  # 1,000 new events, in the shape a consumer sends them
        source.append(batch)
    t0 = time.perf_counter()
    mirror.sync_all()
    live = time.perf_counter() - t0
    local.close()
    return first, live, copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--url", help="a Redis server to use (its database is flushed)")
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    ns = parser.parse_args(argv)
    from desktop_app.core.backends.redis.journal import RedisJournal

    timings: dict[str, dict[str, list[float]]] = {}
    copied = {}
    with tempfile.TemporaryDirectory(prefix="huey-desk-mirror-bench-") as tmp:
        folder = Path(tmp)
        proc, url = (None, ns.url) if ns.url else start_server(folder)
        try:
            redis_journal = RedisJournal(url=url, name="bench")
            redis_journal.client.flushdb()
            sqlite_journal = SqliteJournal(folder / "shared.sqlite")
            for name, source in (("redis", redis_journal), ("sqlite", sqlite_journal)):
                fill(source, ns.tasks)
                timings[name] = {"first": [], "live": []}
                for run in range(ns.repeats):
                    first, live, copied[name] = first_and_live(source, folder, run)
                    timings[name]["first"].append(first)
                    timings[name]["live"].append(live)
                source.close()
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)
    figures: dict[str, float | int] = {"backend": "redis", "tasks": ns.tasks}
    for name, values in timings.items():
        figures[f"{name}_first_sync_s"] = round(median(values["first"]), 2)
        figures[f"{name}_events_per_s"] = round(copied[name] / median(values["first"]))
        figures[f"{name}_live_1000_ms"] = round(median(values["live"]) * 1000, 1)
    figures["first_sync_ratio"] = round(
        figures["redis_first_sync_s"] / figures["sqlite_first_sync_s"], 2
    )
    per_million = figures["redis_first_sync_s"] * 1_000_000 / ns.tasks
    figures["redis_first_sync_per_million_tasks_s"] = round(per_million)
    lines = [
        f"{ns.tasks:,} finished tasks ({ns.tasks * 4:,} events), medians of {ns.repeats} runs",
        f"  first sync: redis {figures['redis_first_sync_s']} s "
        f"({figures['redis_events_per_s']:,} events/s), sqlite {figures['sqlite_first_sync_s']}"
        f" s; ratio redis/sqlite {figures['first_sync_ratio']}",
        f"  at that rate a million tasks take about {round(per_million)} s to copy the first time",
        f"  1,000 new events: redis {figures['redis_live_1000_ms']} ms, "
        f"sqlite {figures['sqlite_live_1000_ms']} ms",
    ]
    report(figures, ns.json, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
