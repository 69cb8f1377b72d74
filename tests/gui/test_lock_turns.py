"""The window's threads get short turns at the interpreter lock."""

from __future__ import annotations

import sys

from desktop_app.gui.lock_turns import SWITCH_INTERVAL_S, short_turns


def test_short_turns_sets_the_interval_and_gives_back_the_one_before():
    before = sys.getswitchinterval()
    try:
        assert short_turns() == before
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    finally:
        sys.setswitchinterval(before)
