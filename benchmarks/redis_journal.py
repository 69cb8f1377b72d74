"""RedisJournal against SqliteJournal (the baseline) in the same run: append and tail.

Append: batches of 50 events (a task's enqueued, executing, progress, complete, for
12-13 tasks per batch), each batch one ``append`` call, timed one by one.  Tail: 1,000
events after a cursor, with ``--events`` stored.  Medians over ``--repeats`` runs; the
ratio is Redis / SQLite (above 1: Redis is slower).  A private redis-server on a Unix
socket is started (and stopped) unless ``--url`` names one; its database is flushed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import median, percentile, report
from desktop_app.core.journal import Journal, NewEvent, SqliteJournal

KINDS = ("enqueued", "executing", "progress", "complete")
DATA = {
    "enqueued": {"args": [1, 2], "kwargs": {}, "args_exact": 1, "args_preview": "1, 2"},
    "executing": {},
    "progress": {"progress": 0.5, "progress_message": "half"},
    "complete": {"duration": 0.01, "result_preview": "3"},
}


def batches(count: int, size: int = 50) -> list[list[NewEvent]]:
    """``count`` batches of ``size`` events, the lives of tasks in order."""
    out, now, n = [], time.time(), 0
    for _ in range(count):
        batch = []
        for _ in range(size):
            task = str(uuid.UUID(int=n // 4))
            kind = KINDS[n % 4]
            batch.append(
                NewEvent(
                    kind,
                    task,
                    "tasks.demo.send_email",
                    now + n / 1000,
                    pid=4242,
                    worker="Worker-1",
                    consumer="c1",
                    data=DATA[kind],
                )
            )
            n += 1
        out.append(batch)
    return out


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def measure(journal: Journal, events: int, repeats: int) -> dict[str, list[float]]:
    journal.register_consumer("c1", host="bench", pid=1, workers=1)
    append = [timed(lambda b=b: journal.append(b)) for b in batches(repeats)]
    for batch in batches(max(0, events - 50 * repeats) // 50):
        journal.append(batch)
    cursor = journal.tail(journal.START, 1)[0].cursor
    page = journal.tail(cursor, events)  # find the cursor 1,000 events before the end
    cursor = page[-1001].cursor
    tail = []
    for _ in range(repeats):
        tail.append(timed(lambda: journal.tail(cursor, 1000)))
    assert len(journal.tail(cursor, 1000)) == 1000
    return {"append": append, "tail": tail}


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed; give --url or apt-get install it")
    socket = folder / "redis.sock"
    proc = subprocess.Popen(
        [exe, "--port", "0", "--unixsocket", str(socket), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    import redis

    deadline = time.monotonic() + 10
    while True:
        client = redis.Redis(unix_socket_path=str(socket))
        try:
            if socket.exists() and client.ping():
                break
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise SystemExit("redis-server did not start")
        time.sleep(0.01)
    return proc, f"unix://{socket}?db=0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--url", help="a Redis server to use (its database is flushed)")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=100)
    ns = parser.parse_args(argv)
    from desktop_app.core.backends.redis.journal import RedisJournal

    with tempfile.TemporaryDirectory(prefix="huey-desk-redis-bench-") as tmp:
        proc, url = (None, ns.url) if ns.url else start_server(Path(tmp))
        try:
            redis_journal = RedisJournal(url=url, name="bench")
            redis_journal.client.flushdb()
            sqlite_journal = SqliteJournal(Path(tmp) / "journal.sqlite")
            results = {
                "redis": measure(redis_journal, ns.events, ns.repeats),
                "sqlite": measure(sqlite_journal, ns.events, ns.repeats),
            }
            redis_journal.close()
            sqlite_journal.close()
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)
    figures: dict[str, float | int] = {"events": ns.events, "repeats": ns.repeats}
    for backend, timings in results.items():
        for what, values in timings.items():
            figures[f"{backend}_{what}_ms"] = round(median(values), 3)
            figures[f"{backend}_{what}_p99_ms"] = round(percentile(values, 99), 3)
    for what in ("append", "tail"):
        figures[f"{what}_ratio"] = round(
            figures[f"redis_{what}_ms"] / figures[f"sqlite_{what}_ms"], 2
        )
    lines = [f"{ns.events:,} events stored, medians of {ns.repeats} runs (p99 in brackets)"]
    for what, label in (("append", "append a batch of 50"), ("tail", "tail 1,000 after a cursor")):
        lines.append(
            f"  {label}: redis {figures[f'redis_{what}_ms']} ms "
            f"({figures[f'redis_{what}_p99_ms']}), sqlite {figures[f'sqlite_{what}_ms']} ms "
            f"({figures[f'sqlite_{what}_p99_ms']}), ratio redis/sqlite {figures[f'{what}_ratio']}"
        )
    report(figures, ns.json, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
