"""Build the scale benchmark's data: a queue with 100,000 pending tasks and a journal
holding 1,000,000 finished tasks, written straight into SQLite (minutes, not hours)."""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

from desktop_app.core.journal import SqliteJournal

# What finished tasks look like: mostly complete, some failed, a few interrupted.
STATES = ["complete"] * 90 + ["error"] * 6 + ["interrupted"] * 2 + ["revoked"] * 2
NAMES = (
    "tasks.demo.send_email",
    "tasks.demo.noop",
    "tasks.demo.make_thumbnail",
    "tasks.demo.crunch_report",
)
RARE = "qxzj"  # a text no generated task contains


def fill_journal(path: Path, tasks: int, chunk: int = 50_000) -> None:
    """``tasks`` finished task summaries, the oldest about ``tasks / 100`` seconds ago."""
    journal = SqliteJournal(path)
    conn = journal._conn()
    rng = random.Random(11)
    start = time.time() - tasks / 100
    for first in range(0, tasks, chunk):
        rows = []
        for i in range(first, min(tasks, first + chunk)):
            state = rng.choice(STATES)
            ts = start + i / 100
            rows.append(
                (
                    str(uuid.UUID(int=rng.getrandbits(128))),
                    rng.choice(NAMES),
                    state,
                    ts,
                    ts - 1.0,
                    ts - 0.4,
                    ts,
                    0.4,
                    1,
                    "bench-consumer",
                    f"Worker-{1 + i % 2}",
                    4242,
                    f"{i}, 'user{i % 977}@example.com'",
                    "'sent'" if state == "complete" else None,
                    f"ValueError: mailbox {i % 31} is full" if state == "error" else None,
                    i * 3 + 1,
                    i * 3 + 3,
                )
            )
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO tasks (task_id, task_name, state, state_ts, enqueued_at, started_at, "
            "finished_at, duration, attempts, consumer, worker, pid, args_preview, "
            "result_preview, error, first_event, last_event) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
    journal.close()


def fill_queue(huey, tasks: int, chunk: int = 20_000) -> None:
    """``tasks`` pending ``noop`` messages, as a producer would have enqueued them."""
    from tasks.demo import noop

    storage = huey.storage
    conn = storage.conn
    for first in range(0, tasks, chunk):
        blobs = [
            (storage.name, huey.serialize_task(noop.s()), 0)
            for _ in range(min(chunk, tasks - first))
        ]
        with conn:
            conn.executemany("INSERT INTO task (queue, data, priority) VALUES (?, ?, ?)", blobs)
