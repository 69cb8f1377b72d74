"""Test isolation: private data folders, no leaked processes or threads."""

from __future__ import annotations

import gc
import os
import tempfile
import threading
from pathlib import Path

import psutil
import pytest

# Before anything imports ``tasks``: keep every test away from the real data folder.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="huey-desk-tests-"))
os.environ["HUEY_DESK_DATA"] = str(_SESSION_DIR / "data")
os.environ["HUEY_DESK_DB"] = str(_SESSION_DIR / "default-queue.db")
os.environ.pop("HUEY_DESK_JOURNAL", None)
os.environ.pop("DJANGO_SETTINGS_MODULE", None)  # commands would attach to that project
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _collect_on_the_main_thread():
    """Collect garbage only here, between tests, on the main thread, as the window does
    (gui/app.py): a Qt widget freed by a collection that a monitor thread happened to run
    is destroyed off the GUI thread, and Qt deadlocks (seen once in a full run)."""
    gc.disable()
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _no_leaks():
    """Fail a test that leaves a child process or a non-daemon thread running."""
    me = psutil.Process()
    children_before = {p.pid for p in me.children(recursive=True)}
    threads_before = set(threading.enumerate())
    yield
    leaked = [
        p
        for p in me.children(recursive=True)
        if p.pid not in children_before and p.status() != psutil.STATUS_ZOMBIE
    ]
    for p in leaked:
        p.kill()
    assert not leaked, f"test left processes running: {[p.cmdline() for p in leaked]}"
    threads = [
        t
        for t in threading.enumerate()
        if t not in threads_before and t.is_alive() and not t.daemon
    ]
    assert not threads, f"test left threads running: {threads}"
