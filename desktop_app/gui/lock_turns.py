"""How long a thread of the window may hold the interpreter lock while another waits."""

from __future__ import annotations

import sys

# Python's default is 5 ms.  A paint of the tasks table calls into Python for every
# cell; while the monitor or the search indexer is busy, each call can wait out the
# other thread's turn.  benchmarks.table_paint, beside one busy thread: 114 ms a paint
# with Qt's own calls and 5 ms turns, 30 ms with the models' one call a cell and 1 ms.
SWITCH_INTERVAL_S = 0.001


def short_turns() -> float:
    """Give the window's threads short turns at the lock; the interval it had before."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return before
