"""Shared pieces of the benchmarks: temporary queues, consumer processes, statistics."""

from __future__ import annotations

import importlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
TARGET = "benchmarks.bench_tasks:huey"


def consumer_command(kind: str, workers: int = 1) -> list[str]:
    """The command line of our consumer ("desk") or Huey's stock one ("stock")."""
    if kind == "desk":
        return [
            sys.executable,
            "-m",
            "desktop_app",
            "consumer",
            "--huey",
            TARGET,
            "--workers",
            str(workers),
            "--no-periodic",
        ]
    return [
        sys.executable,
        "-m",
        "huey.bin.huey_consumer",
        "benchmarks.bench_tasks.huey",
        "--workers",
        str(workers),
        "--no-periodic",
    ]


def start_consumer(
    kind: str, env: dict[str, str], workers: int = 1, log: Path | None = None
) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed by caller's exit
    return subprocess.Popen(
        consumer_command(kind, workers), cwd=ROOT, env=env, stdout=out, stderr=out
    )


def stop_consumer(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_env(db: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["HUEY_DESK_BENCH_DB"] = str(db)
    env["HUEY_DESK_JOURNAL"] = str(db) + ".desk-journal"
    env["PYTHONPATH"] = str(ROOT)
    return env


def fresh_queue(kind: str, db: Path, workers: int, log: Path) -> tuple[Any, subprocess.Popen]:
    """The bench tasks module bound to a new queue file ``db``, and a consumer on it."""
    import benchmarks.bench_tasks as bench

    env = bench_env(db)
    os.environ["HUEY_DESK_BENCH_DB"] = env["HUEY_DESK_BENCH_DB"]
    bench = importlib.reload(bench)  # a fresh Huey on this run's file
    return bench, start_consumer(kind, env, workers=workers, log=log)


def cpu_percent(proc: subprocess.Popen, seconds: float) -> float:
    """CPU used by ``proc`` and its children over ``seconds``, in percent of one core."""
    root = psutil.Process(proc.pid)

    def total() -> float:
        procs = [root, *root.children(recursive=True)]
        used = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                used += t.user + t.system
            except psutil.Error:
                pass
        return used

    before, start = total(), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (total() - before) / (time.monotonic() - start)


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(figures: dict, as_json: bool, lines: Sequence[str]) -> None:
    if as_json:
        print(json.dumps(figures))
    else:
        for line in lines:
            print(line)
