"""Guards against Qt binding bugs that would crash a long-running window."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(object)


def test_emitting_a_signal_keeps_references_to_true(qapp):
    # PySide6 6.12.0 drops a reference to True on every emit(); Python 3.11 aborts when
    # the count runs out (after about a thousand emits in a running window).
    emitter = _Emitter()
    before = sys.getrefcount(True)
    for _ in range(200):
        emitter.fired.emit({"flag": True})
    assert sys.getrefcount(True) >= before - 5
