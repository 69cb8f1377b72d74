"""Tasks started at a fixed rate, for benchmarks that offer a stream of a chosen size.

With ``HUEY_DESK_BENCH_PACE`` set (tasks a second, for the whole consumer), a
pre-execute hook holds each task until its slot, so a backlog drains at that rate
instead of as fast as the workers can; a consumer that cannot keep up runs as fast as it
can.  ``huey`` is the demo tasks' SQLite instance paced so (``benchmarks.paced:huey``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any


def paced(huey: Any) -> Any:
    """``huey`` with the pace of ``HUEY_DESK_BENCH_PACE`` (unchanged if unset)."""
    rate = float(os.environ.get("HUEY_DESK_BENCH_PACE") or 0)
    if rate <= 0:
        return huey
    interval = 1.0 / rate
    lock = threading.Lock()
    slot = [0.0]

    @huey.pre_execute(name="bench_pace")
    def pace(task: Any) -> None:
        with lock:  # the workers share the consumer's one schedule
            now = time.monotonic()
            mine = slot[0] = max(slot[0] + interval, now)
        if mine > now:
            time.sleep(mine - now)

    return huey


def __getattr__(name: str) -> Any:
    if name == "huey":  # imported only when asked for: it opens the SQLite queue
        from tasks import huey

        return paced(huey)
    raise AttributeError(name)
