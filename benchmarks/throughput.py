"""Drain 5,000 no-op tasks with 2 thread workers: our consumer versus a stock one.

Both consumers start on an empty queue and are warmed up; then all tasks are committed
in one transaction and the benchmark counts stored results until every task is done.
The rate is taken from the first completion to the last, so neither consumer's wake-up
delay counts; the time from the commit is printed as well.  Goal: ratio >= 0.9.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.common import RedisServer, fresh_queue, median, report, stop_consumer

# our consumer with a part switched off (benchmarks.consumer_variant), for --parts
PARTS = (
    "desk-no-inflight",
    "desk-no-journal",
    "desk-no-send",
    "desk-one-send",
    "desk-update-take",
    "desk-bare",
)


def _cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds used so far by the consumer ``pid`` itself, and by its children (our
    journal writer)."""
    root = psutil.Process(pid)
    times = root.cpu_times()
    own = times.user + times.system
    children = 0.0
    for child in root.children(recursive=True):
        try:
            t = child.cpu_times()
            children += t.user + t.system
        except psutil.Error:
            pass
    return own, children


def _profiler(pid: int, svg: Path, gil: bool) -> subprocess.Popen:
    """``py-spy record`` on the consumer ``pid`` and its children (the journal writer),
    written to ``svg`` when it is interrupted; ``gil``: only samples holding the GIL."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    cmd = [exe, "record", "--pid", str(pid), "--subprocesses", "--rate", "250"]
    cmd += ["--nonblocking", "--format", "flamegraph", "--output", str(svg)]
    if gil:
        cmd.append("--gil")
    profiler = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # noqa: sleep-ok - py-spy attaches before the tasks are committed
    return profiler


def _drain(
    kind: str,
    tasks: int,
    workdir: Path,
    run: int,
    redis_url: str | None = None,
    profile: Path | None = None,
    gil: bool = False,
) -> tuple[float, float, float, float]:
    """Steady rate (tasks/s), seconds from the commit to the last result, and the CPU
    the consumer process and its children used per task (µs), from the commit on."""
    bench, proc = fresh_queue(
        kind, workdir / f"{kind}-{run}.db", 2, workdir / f"{kind}.log", redis_url=redis_url
    )
    huey = bench.huey
    profiler = None
    try:
        huey.result(bench.stamp().id, blocking=True, timeout=60)  # up, and result popped
        if profile is not None:
            profiler = _profiler(proc.pid, profile, gil)
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
        cpu_before = _cpu_s(proc.pid)
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
        cpu_after = _cpu_s(proc.pid)
        steady = (tasks - 1) / (now - first) if now > first else float("inf")
        own, children = (1e6 * (a - b) / tasks for a, b in zip(cpu_after, cpu_before))
        return steady, now - committed, own, children
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            _, err = profiler.communicate(timeout=60)
            if profiler.returncode:
                print(f"py-spy failed: {err.decode(errors='replace').strip()}", file=sys.stderr)
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
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        type=Path,
        help="first record one extra drain of each consumer with py-spy (not counted): "
        "flame graphs DIR/{desk,stock}-BACKEND.svg",
    )
    parser.add_argument(
        "--gil", action="store_true", help="with --py-spy: only samples that hold the GIL"
    )
    parser.add_argument(
        "--parts",
        nargs="*",
        choices=PARTS,
        help="also drain with our consumer with a part switched off (all of them if none "
        "is named; see benchmarks.consumer_variant), interleaved: what each part costs",
    )
    ns = parser.parse_args(argv)
    chosen = ns.parts if ns.parts else (PARTS if ns.parts is not None else ())
    parts: dict[str, list[float]] = {k: [] for k in chosen}
    parts_cpu: dict[str, list[float]] = {k: [] for k in parts}
    ours, base, ours_total, base_total = [], [], [], []
    ours_cpu, ours_writer_cpu, base_cpu = [], [], []
    with tempfile.TemporaryDirectory(prefix="huey-desk-throughput-") as tmp:
        server = RedisServer(Path(tmp)) if ns.backend == "redis" else None
        url = server.url if server else None
        try:
            if ns.py_spy is not None:
                ns.py_spy.mkdir(parents=True, exist_ok=True)
                suffix = "-gil" if ns.gil else ""
                for kind in ("desk", "stock"):
                    svg = ns.py_spy / f"{kind}-{ns.backend}{suffix}.svg"
                    rate, *_ = _drain(kind, ns.tasks, Path(tmp), -1, url, svg, ns.gil)
                    print(f"profiled {kind}: {rate:.1f} tasks/s under py-spy -> {svg}")
            for run in range(ns.runs):
                rate, total, cpu, writer_cpu = _drain("desk", ns.tasks, Path(tmp), run, url)
                ours.append(rate)
                ours_total.append(total)
                ours_cpu.append(cpu)
                ours_writer_cpu.append(writer_cpu)
                rate, total, cpu, _ = _drain("stock", ns.tasks, Path(tmp), run, url)
                base.append(rate)
                base_total.append(total)
                base_cpu.append(cpu)
                for kind in parts:
                    rate, _total, cpu, writer_cpu = _drain(kind, ns.tasks, Path(tmp), run, url)
                    parts[kind].append(rate)
                    parts_cpu[kind].append(cpu + writer_cpu)
        finally:
            if server:
                server.stop()
    figures = {
        "tasks_per_s": round(median(ours), 1),
        "baseline_tasks_per_s": round(median(base), 1),
        "ratio": round(median(ours) / median(base), 3),
        "drain_s": round(median(ours_total), 3),
        "baseline_drain_s": round(median(base_total), 3),
        "cpu_us_per_task": round(median(ours_cpu), 1),
        "writer_cpu_us_per_task": round(median(ours_writer_cpu), 1),
        "baseline_cpu_us_per_task": round(median(base_cpu), 1),
        "tasks": ns.tasks,
        "runs": ns.runs,
        "backend": ns.backend,
        "all_tasks_per_s": [round(r, 1) for r in ours],
        "all_baseline_tasks_per_s": [round(r, 1) for r in base],
    }
    for kind, rates in parts.items():
        figures[f"{kind}_tasks_per_s"] = round(median(rates), 1)
        figures[f"{kind}_ratio"] = round(median(rates) / median(base), 3)
        figures[f"{kind}_cpu_us_per_task"] = round(median(parts_cpu[kind]), 1)
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
            f"  CPU per task (median): ours {figures['cpu_us_per_task']} µs in the consumer "
            f"+ {figures['writer_cpu_us_per_task']} µs in its journal writer, stock "
            f"{figures['baseline_cpu_us_per_task']} µs",
            f"  ratio ours / stock: {figures['ratio']}",
            *(
                f"  {kind:<17}: {figures[kind + '_tasks_per_s']} tasks/s, ratio "
                f"{figures[kind + '_ratio']}, CPU {figures[kind + '_cpu_us_per_task']} µs/task "
                f"(consumer + writer)"
                for kind in parts
            ),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
