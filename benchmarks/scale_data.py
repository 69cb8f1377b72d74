"""Build the scale benchmark's data: a queue with 100,000 pending tasks and a journal
holding 1,000,000 finished tasks, written straight into SQLite (minutes, not hours), or
into Redis (the queue list pushed in bulk, the journal through ``RedisJournal.append``
in large batches).

With ``HUEY_DESK_BENCH_REDIS`` (a URL) set, ``redis_huey`` is the demo tasks (the same
task names as ``tasks:huey``) on a ``RedisHuey`` there: the target the Redis run's
window and consumers load (``benchmarks.scale_data:redis_huey``)."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.paced import paced
from desktop_app.core.journal import (
    COMPLETE,
    ENQUEUED,
    ERROR,
    EXECUTING,
    INTERRUPTED,
    REVOKED,
    Journal,
    NewEvent,
    SqliteJournal,
)

# What finished tasks look like: mostly complete, some failed, a few interrupted.
STATES = ["complete"] * 90 + ["error"] * 6 + ["interrupted"] * 2 + ["revoked"] * 2
NAMES = (
    "tasks.demo.send_email",
    "tasks.demo.noop",
    "tasks.demo.make_thumbnail",
    "tasks.demo.crunch_report",
)
RARE = "qxzj"  # a text no generated task contains


def finished_tasks(tasks: int, span_s: float | None = None) -> Iterator[tuple[Any, ...]]:
    """The finished tasks both journals get: id, name, state, times, worker, previews
    (the oldest finished ``span_s`` ago: by default ``tasks / 100`` seconds)."""
    rng = random.Random(11)
    span = tasks / 100 if span_s is None else span_s
    start = time.time() - span
    for i in range(tasks):
        state = rng.choice(STATES)
        ts = start + i * span / tasks
        yield (
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


def fill_journal(path: Path, tasks: int, chunk: int = 50_000, span_s: float | None = None) -> None:
    """``tasks`` finished task summaries, written into the SQLite tables directly."""
    journal = SqliteJournal(path)
    conn = journal._conn()
    made = finished_tasks(tasks, span_s)
    for first in range(0, tasks, chunk):
        rows = [next(made) for _ in range(min(tasks, first + chunk) - first)]
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


def life(row: tuple[Any, ...]) -> list[NewEvent]:
    """A finished task of ``finished_tasks`` as the events a consumer would journal."""
    task_id, name, state, ts, enqueued, started = row[:6]
    duration, consumer, worker, pid, args, result, error = row[7], *row[9:15]
    events = [NewEvent(ENQUEUED, task_id, name, enqueued, data={"args_preview": args})]
    if state == REVOKED:
        return [*events, NewEvent(REVOKED, task_id, name, ts)]
    where = {"pid": pid, "worker": worker, "consumer": consumer}
    events.append(NewEvent(EXECUTING, task_id, name, started, **where))
    if state == COMPLETE:
        data = {"duration": duration, "result_preview": result}
    elif state == ERROR:
        data = {"duration": duration, "error": error, "traceback": error}
    else:
        data = {"duration": duration, "error": "its consumer stopped beating"}
    kind = {COMPLETE: COMPLETE, ERROR: ERROR}.get(state, INTERRUPTED)
    return [*events, NewEvent(kind, task_id, name, ts, data=data, **where)]


def fill_shared_journal(journal: Journal, tasks: int, batch: int = 1000) -> None:
    """``tasks`` finished tasks appended through the journal's own writer, ``batch``
    tasks (about three events each) per ``append`` call."""
    made = finished_tasks(tasks)
    for first in range(0, tasks, batch):
        count = min(tasks, first + batch) - first
        journal.append([ev for _ in range(count) for ev in life(next(made))])


def fill_redis_queue(huey, tasks: int, chunk: int = 20_000) -> None:
    """``tasks`` pending ``noop`` messages pushed onto a Redis queue's list in bulk."""
    storage = huey.storage
    noop = huey._registry.string_to_task("tasks.demo.noop")
    for first in range(0, tasks, chunk):
        blobs = [huey.serialize_task(noop()) for _ in range(min(chunk, tasks - first))]
        storage.conn.lpush(storage.queue_key, *blobs)


def demo_on_redis(url: str):
    """The demo tasks registered on a ``RedisHuey`` at ``url`` (periodic ones left out,
    priorities too: a plain Redis queue has none)."""
    from huey import RedisHuey
    from huey.api import PeriodicTask, TaskWrapper

    import tasks.demo as demo

    huey = RedisHuey("huey-desk", url=url)
    for wrapper in vars(demo).values():
        if isinstance(wrapper, TaskWrapper) and not issubclass(wrapper.task_class, PeriodicTask):
            settings = wrapper.settings
            huey.task(
                retries=settings["default_retries"],
                retry_delay=settings["default_retry_delay"],
                context=wrapper.context,
            )(wrapper.func)
    return huey


redis_huey = (
    paced(demo_on_redis(os.environ["HUEY_DESK_BENCH_REDIS"]))
    if os.environ.get("HUEY_DESK_BENCH_REDIS")
    else None
)
