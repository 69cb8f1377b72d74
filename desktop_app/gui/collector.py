"""Garbage collection in the window: on the GUI thread only, and kept short."""

from __future__ import annotations

import gc

from pyqtgraph.util.garbage_collector import GarbageCollector


class GuiCollector:
    """Python's collector run from a GUI-thread timer only: a collection that the monitor
    thread happened to run could free a Qt object there, and Qt deadlocks.  pyqtgraph's
    collector turns automatic collection off and collects on its timer."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self._collector = GarbageCollector(interval=interval_s)

    def settle(self) -> None:
        """Once the window is up: what start-up made (modules, widgets, about 110,000
        objects) is moved out of every later collection, so that a full collection
        walks only what came after (about 30 ms less each here)."""
        gc.collect()
        gc.freeze()

    def stop(self) -> None:
        self._collector.timer.stop()
