"""Enqueue-to-executing latency on an idle consumer: ours versus a stock ``huey_consumer``.

A separate producer process (this one) enqueues with plain Huey calls, spaced apart so the
consumer is really idle; the task returns the time it started.  Latency runs from the
moment the enqueue call has returned (the task is committed and visible) to the moment
the task starts; the figure counted from the start of the enqueue call, which adds the
producer's own commit, is printed beside it.  Goal: median <= 2 ms, p99 <= 10 ms, idle CPU <= 1 %.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    RedisServer,
    cpu_percent,
    fresh_queue,
    median,
    percentile,
    report,
    stop_consumer,
)


def _latencies(
    kind: str,
    samples: int,
    spacing: tuple[float, float],
    idle_s: float,
    workdir: Path,
    redis_url: str | None = None,
) -> tuple[list[float], list[float], float]:
    bench, proc = fresh_queue(
        kind, workdir / f"{kind}.db", 1, workdir / f"{kind}.log", redis_url=redis_url
    )
    try:
        bench.stamp().get(blocking=True, timeout=60)  # the consumer is up
        rng = random.Random(42)
        out, calls = [], []
        for _ in range(samples):
            time.sleep(rng.uniform(*spacing))
            called = time.time()
            result = bench.stamp()
            enqueued = time.time()
            started = result.get(blocking=True, timeout=60, backoff=1.0, max_delay=0.01)
            out.append((started - enqueued) * 1000.0)
            calls.append((started - called) * 1000.0)
        time.sleep(1.0)
        idle = cpu_percent(proc, idle_s)
        return out, calls, idle
    finally:
        stop_consumer(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--min-gap", type=float, default=0.3, help="shortest gap (s)")
    parser.add_argument("--max-gap", type=float, default=0.6, help="longest gap (s)")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument(
        "--backend",
        choices=("sqlite", "redis", "priority-redis"),
        default="sqlite",
        help="queue storage (redis: a redis-server started here on a Unix socket; "
        "priority-redis: a PriorityRedisHuey there, whose queue is a sorted set)",
    )
    ns = parser.parse_args(argv)
    os.environ["HUEY_DESK_BENCH_PRIORITY"] = "1" if ns.backend == "priority-redis" else "0"
    with tempfile.TemporaryDirectory(prefix="huey-desk-pickup-") as tmp:
        server = RedisServer(Path(tmp)) if ns.backend != "sqlite" else None
        url = server.url if server else None
        gaps = (ns.min_gap, ns.max_gap)
        try:
            ours, ours_call, idle = _latencies(
                "desk", ns.samples, gaps, ns.idle_seconds, Path(tmp), url
            )
            base, base_call, base_idle = _latencies(
                "stock", ns.samples, gaps, ns.idle_seconds, Path(tmp), url
            )
        finally:
            if server:
                server.stop()
    figures = {
        "median_ms": round(median(ours), 3),
        "p99_ms": round(percentile(ours, 99), 3),
        "idle_cpu_percent": round(idle, 3),
        "baseline_median_ms": round(median(base), 3),
        "baseline_p99_ms": round(percentile(base, 99), 3),
        "baseline_idle_cpu_percent": round(base_idle, 3),
        "from_call_median_ms": round(median(ours_call), 3),
        "baseline_from_call_median_ms": round(median(base_call), 3),
        "ratio_median": round(median(base) / median(ours), 1) if median(ours) else None,
        "samples": ns.samples,
        "backend": ns.backend,
        "gap_s": [ns.min_gap, ns.max_gap],
    }
    report(
        figures,
        ns.json,
        [
            f"pickup latency over {ns.samples} samples, gaps {ns.min_gap}-{ns.max_gap} s, "
            f"{ns.backend}",
            f"  huey-desk consumer : median {figures['median_ms']} ms, p99 {figures['p99_ms']} ms,"
            f" idle CPU {figures['idle_cpu_percent']} %",
            f"  stock huey_consumer: median {figures['baseline_median_ms']} ms, "
            f"p99 {figures['baseline_p99_ms']} ms, "
            f"idle CPU {figures['baseline_idle_cpu_percent']} %",
            f"  stock / ours (median): {figures['ratio_median']}x",
            f"  counted from the start of the enqueue call (includes the producer's commit): "
            f"ours {figures['from_call_median_ms']} ms, stock "
            f"{figures['baseline_from_call_median_ms']} ms",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
