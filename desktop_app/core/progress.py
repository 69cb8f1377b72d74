"""Let a task report how far it has got; a harmless no-op outside our consumer.

from desktop_app.core.progress import report_progress

@huey.task()
def crunch(rows):
    for i in range(rows):
        ...
        report_progress((i + 1) / rows, f"row {i + 1} of {rows}")
"""

from __future__ import annotations

import math
from collections.abc import Callable

_sink: Callable[[float, str | None], None] | None = None


def install(sink: Callable[[float, str | None], None] | None) -> None:
    """Route reports to ``sink`` (the consumer's recorder); None turns reporting off."""
    global _sink
    _sink = sink


def report_progress(fraction: float, message: str | None = None) -> None:
    """Report that the running task is ``fraction`` (0 to 1) done, with a short note.

    Never raises: progress is advisory, and a bad value must not fail the task.
    """
    sink = _sink
    if sink is None:
        return
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        return
    if not math.isfinite(value):
        return
    note = None if message is None else str(message)[:200]
    try:
        sink(min(max(value, 0.0), 1.0), note)
    except Exception:
        return
