"""The Redis app on a priority queue, whose idle worker SIGKILLs its own consumer at one
point of its take (``HUEY_DESK_KILL_AT``): ``woken`` just after Redis said the queue was
written, before the take script; ``taken`` just after the script took the message,
before the task runs.  A deterministic kill where a pop and its record could part.
The worker creates the file ``HUEY_DESK_KILL_MARK`` when it starts waiting for work."""

import os
import signal
from pathlib import Path

from desktop_app.core.backends.redis import inflight, wakeup
from tests.targets.redis_app import add, chore, huey

__all__ = ["add", "chore", "huey"]

AT = os.environ.get("HUEY_DESK_KILL_AT")
MARK = os.environ.get("HUEY_DESK_KILL_MARK")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


_wait = wakeup.KeyWatch.wait


def _marked_wait(self, timeout):
    if MARK:
        Path(MARK).touch()
    woken = _wait(self, timeout)
    if woken and AT == "woken":
        _die()
    return woken


wakeup.KeyWatch.wait = _marked_wait
if AT == "taken":
    _wait_and_take = inflight.RedisInFlight._wait_and_take

    def _take_then_die(self, *args):
        entry = _wait_and_take(self, *args)
        if entry is not None:
            _die()
        return entry

    inflight.RedisInFlight._wait_and_take = _take_then_die
