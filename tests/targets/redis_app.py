"""A project on Redis: a ``RedisHuey`` at ``HUEY_DESK_REDIS_URL`` (a ``PriorityRedisHuey``
with ``HUEY_DESK_REDIS_PRIORITY=1``, results under expiring keys of their own with
``HUEY_DESK_REDIS_EXPIRE=1``), with a few tasks for consumer and fault tests."""

import os
import time

from huey import PriorityRedisExpireHuey, PriorityRedisHuey, RedisExpireHuey, RedisHuey

URL = os.environ.get("HUEY_DESK_REDIS_URL", "redis://localhost:6379/0")
_KINDS = {
    (False, False): RedisHuey,
    (True, False): PriorityRedisHuey,
    (False, True): RedisExpireHuey,
    (True, True): PriorityRedisExpireHuey,
}
_kind = _KINDS[
    os.environ.get("HUEY_DESK_REDIS_PRIORITY") == "1",
    os.environ.get("HUEY_DESK_REDIS_EXPIRE") == "1",
]
huey = _kind("desk-redis", url=URL)


@huey.task(retries=2, retry_delay=0)
def chore(seconds: float = 0.0, fail: bool = False) -> float:
    """A short job that declared two retries: it runs again after a crash interrupts it."""
    if seconds > 0:
        time.sleep(seconds)  # the task's own slow work  # noqa: sleep-ok
    if fail:
        raise RuntimeError("chore failed as asked")
    return seconds


@huey.task()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b
