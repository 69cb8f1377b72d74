"""The window's garbage collector: on a GUI-thread timer, start-up frozen out of it."""

from __future__ import annotations

import gc

from desktop_app.gui.collector import GuiCollector


def test_settle_leaves_start_up_out_of_later_collections(qtbot):
    collector = GuiCollector(interval_s=0.05)
    try:
        assert not gc.isenabled()  # only the timer collects, on the GUI thread
        collector.settle()
        assert gc.get_freeze_count() > 1000
        assert len(gc.get_objects()) < gc.get_freeze_count()
        made = [[n] for n in range(2000)]  # new objects, collected by the timer
        qtbot.waitUntil(lambda: gc.get_count()[0] < len(made), timeout=5000)
    finally:
        collector.stop()
        gc.unfreeze()
