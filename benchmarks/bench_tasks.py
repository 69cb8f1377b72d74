"""A tiny Huey app for the benchmarks: its queue file is ``HUEY_DESK_BENCH_DB``, or, with
``HUEY_DESK_BENCH_REDIS`` set (a URL), a RedisHuey there (a PriorityRedisHuey with
``HUEY_DESK_BENCH_PRIORITY=1``)."""

import os
import time

from huey import PriorityRedisHuey, RedisHuey, SqliteHuey

if os.environ.get("HUEY_DESK_BENCH_REDIS"):
    _kind = PriorityRedisHuey if os.environ.get("HUEY_DESK_BENCH_PRIORITY") == "1" else RedisHuey
    huey = _kind("bench", url=os.environ["HUEY_DESK_BENCH_REDIS"], store_none=True)
else:
    huey = SqliteHuey(
        "bench", filename=os.environ.get("HUEY_DESK_BENCH_DB", "bench.db"), store_none=True
    )


@huey.task()
def stamp() -> float:
    """Return the time at which the task started running."""
    return time.time()


@huey.task()
def nop() -> None:
    """Do nothing (the result None is stored, so completions can be counted)."""
