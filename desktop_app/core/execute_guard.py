"""Journal an error for a task whose run raised outside the task's own code.

Huey runs a task, then stores its result; if storing raises (a result that cannot be
pickled, a full disk) the exception leaves ``Huey.execute`` before any "complete" or
"error" signal, and the consumer's worker only logs it.  The journal would show the task
executing for as long as its worker lives.  This guard fires Huey's error signal for it,
so every hook (ours included) sees the task end as it did: in an error.
"""

from __future__ import annotations

import threading
from typing import Any

from huey import Huey
from huey import signals as S

# Signals after which the task's run has been reported as ended, one way or another.
_ENDED = (
    S.SIGNAL_COMPLETE,
    S.SIGNAL_ERROR,
    S.SIGNAL_RETRYING,
    S.SIGNAL_REVOKED,
    S.SIGNAL_CANCELED,
    S.SIGNAL_EXPIRED,
    S.SIGNAL_LOCKED,
    S.SIGNAL_INTERRUPTED,
)


class ExecuteGuard:
    """Wraps ``huey.execute`` in the consumer process (before its workers start)."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._local = threading.local()
        self._execute: Any = None

    def install(self) -> None:
        self._execute = self.huey.execute
        self.huey.execute = self.execute  # type: ignore[method-assign]
        self.huey.signal(*_ENDED)(self._ended)

    def uninstall(self) -> None:
        if self._execute is not None:
            self.huey.execute = self._execute  # type: ignore[method-assign]
            self.huey.disconnect_signal(self._ended)
            self._execute = None

    def _ended(self, signal: str, task: Any, *args: Any) -> None:
        self._local.ended = task.id

    def execute(self, task: Any, timestamp: Any = None) -> Any:
        self._local.ended = None
        try:
            return self._execute(task, timestamp)
        except Exception as exc:
            if getattr(self._local, "ended", None) != task.id:
                self.huey._emit(S.SIGNAL_ERROR, task, exc)
            raise
