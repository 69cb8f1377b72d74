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
    """The command line of our consumer ("desk"), of our consumer with a part switched
    off ("desk-no-inflight", "desk-no-journal", "desk-bare": see consumer_variant), or of
    Huey's stock one ("stock")."""
    if kind.startswith("desk"):
        variant = kind.removeprefix("desk").removeprefix("-")
        launcher = ["benchmarks.consumer_variant", variant] if variant else ["desktop_app"]
        return [
            sys.executable,
            "-m",
            *launcher,
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


def bench_env(db: Path, redis_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["HUEY_DESK_BENCH_DB"] = str(db)
    env["HUEY_DESK_JOURNAL"] = str(db) + ".desk-journal"
    env["PYTHONPATH"] = str(ROOT)
    env.pop("HUEY_DESK_BENCH_REDIS", None)
    if redis_url:
        env["HUEY_DESK_BENCH_REDIS"] = redis_url
    return env


def fresh_queue(
    kind: str, db: Path, workers: int, log: Path, redis_url: str | None = None
) -> tuple[Any, subprocess.Popen]:
    """The bench tasks module bound to a new queue file ``db`` (or, with ``redis_url``, to
    that Redis, emptied first), and a consumer on it."""
    import benchmarks.bench_tasks as bench

    env = bench_env(db, redis_url)
    os.environ["HUEY_DESK_BENCH_DB"] = env["HUEY_DESK_BENCH_DB"]
    if redis_url:
        os.environ["HUEY_DESK_BENCH_REDIS"] = redis_url
    else:
        os.environ.pop("HUEY_DESK_BENCH_REDIS", None)
    bench = importlib.reload(bench)  # a fresh Huey on this run's file
    if redis_url:
        bench.huey.storage.conn.flushdb()
    return bench, start_consumer(kind, env, workers=workers, log=log)


class RedisServer:
    """A redis-server of the benchmark's own, without persistence, on a Unix socket in
    ``folder`` (started by ``--backend redis``; stopped on exit)."""

    def __init__(self, folder: Path) -> None:
        import shutil

        exe = shutil.which("redis-server")
        if exe is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server)")
        self.socket = folder / "redis.sock"
        args = [exe, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
        args += ["--logfile", str(folder / "redis.log")]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                client = redis.Redis(unix_socket_path=str(self.socket))
                client.ping()
                client.close()
                break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


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
