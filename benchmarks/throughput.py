"""Drain 5,000 no-op tasks with 2 thread workers: our consumer versus a stock one.

Both consumers start on an empty queue and are warmed up; then all tasks are committed
in one transaction and the benchmark counts stored results until every task is done.
The rate is taken from the first completion to the last, so neither consumer's wake-up
delay counts; the time from the commit is printed as well.  Goal: ratio >= 0.9.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RedisServer, fresh_queue, median, report, stop_consumer


def _drain(
    kind: str, tasks: int, workdir: Path, run: int, redis_url: str | None = None
) -> tuple[float, float]:
    bench, proc = fresh_queue(
        kind, workdir / f"{kind}-{run}.db", 2, workdir / f"{kind}.log", redis_url=redis_url
    )
    huey = bench.huey
    try:
        huey.result(bench.stamp().id, blocking=True, timeout=60)  # up, and result popped
        blobs = [huey.serialize_task(bench.nop.s()) for _ in range(tasks)]
        storage = huey.storage
        if redis_url:
            storage.conn.lpush(storage.queue_key, *blobs)  # one command: all at once
        else:
            with storage.db(commit=True) as cursor:
                cursor.executemany(
                    "INSERT INTO task (queue, data, priority) VALUES (?, ?, 0)",
                    [(storage.name, b) for b in blobs],
                )
        committed = time.monotonic()
        first = None
        while True:
            done = huey.result_count()
            now = time.monotonic()
            if first is None and done:
                first = now
            if done >= tasks:
                break
            if now - committed > 600:
                raise RuntimeError(f"{kind} consumer drained only {done} of {tasks} tasks")
            time.sleep(0.005)
        steady = (tasks - 1) / (now - first) if now > first else float("inf")
        return steady, now - committed
    finally:
        stop_consumer(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5, help="runs of each, interleaved")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "redis"),
        default="sqlite",
        help="queue storage (redis: a redis-server started here on a Unix socket)",
    )
    ns = parser.parse_args(argv)
    ours, base, ours_total, base_total = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="huey-desk-throughput-") as tmp:
        server = RedisServer(Path(tmp)) if ns.backend == "redis" else None
        url = server.url if server else None
        try:
            for run in range(ns.runs):
                rate, total = _drain("desk", ns.tasks, Path(tmp), run, url)
                ours.append(rate)
                ours_total.append(total)
                rate, total = _drain("stock", ns.tasks, Path(tmp), run, url)
                base.append(rate)
                base_total.append(total)
        finally:
            if server:
                server.stop()
    figures = {
        "tasks_per_s": round(median(ours), 1),
        "baseline_tasks_per_s": round(median(base), 1),
        "ratio": round(median(ours) / median(base), 3),
        "drain_s": round(median(ours_total), 3),
        "baseline_drain_s": round(median(base_total), 3),
        "tasks": ns.tasks,
        "runs": ns.runs,
        "backend": ns.backend,
        "all_tasks_per_s": [round(r, 1) for r in ours],
        "all_baseline_tasks_per_s": [round(r, 1) for r in base],
    }
    report(
        figures,
        ns.json,
        [
            f"drain {ns.tasks} no-op tasks, 2 thread workers, median of {ns.runs} runs, "
            f"{ns.backend}",
            f"  huey-desk consumer (hooks + journal): {figures['tasks_per_s']} tasks/s "
            f"(all: {figures['all_tasks_per_s']}), {figures['drain_s']} s from commit",
            f"  stock huey_consumer                : {figures['baseline_tasks_per_s']} tasks/s "
            f"(all: {figures['all_baseline_tasks_per_s']}), {figures['baseline_drain_s']} s",
            f"  ratio ours / stock: {figures['ratio']}",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
