"""How long a thread of the window may hold the interpreter lock while another waits."""

from __future__ import annotations

import sys

# Python's default is 5 ms.  A paint of the tasks table calls into Python for every
# cell (about 500 calls); while the monitor or the search indexer is busy, each call can
# wait out the other thread's turn: a paint of 250 cells took 65 ms beside one busy
# thread with the default, 23 ms with 1 ms (4 ms with no thread beside it).
SWITCH_INTERVAL_S = 0.001


def short_turns() -> float:
    """Give the window's threads short turns at the lock; the interval it had before."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return before
