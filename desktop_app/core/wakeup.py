"""Wake idle workers the moment the queue's storage changes, without polling.

A stock Huey worker that finds the queue empty sleeps with exponential back-off up to
10 s, so a new task can wait seconds.  Here an idle worker blocks in ``poll()`` on an
inotify descriptor that watches the SQLite queue file and its write-ahead log: any
producer's commit (our CLI, the window, or a plain ``task()`` call in another program)
writes those files and wakes the worker at once, and an idle worker costs no CPU.
A storage we cannot watch falls back to a short poll.
"""

from __future__ import annotations

import logging
import os
import select
import sys
from pathlib import Path

from desktop_app.core.paths import sqlite_filename

logger = logging.getLogger("huey_desk.wakeup")

try:  # Linux only; elsewhere the watcher falls back to polling.
    from inotify_simple import INotify, flags
except ImportError:  # pragma: no cover - depends on the platform
    INotify = None  # type: ignore[assignment,misc]

# How long an idle worker waits before it looks at the queue anyway: a safety net for
# changes the watch cannot see (a network file system, a storage we cannot watch).
SAFETY_POLL_S = 2.0
FALLBACK_POLL_S = 0.25


def watched_files(huey: object) -> list[Path]:
    """The files whose change means the queue of ``huey`` changed (empty: unknown)."""
    db = sqlite_filename(huey)
    return [] if db is None else [db, db.with_name(db.name + "-wal")]


class QueueWatcher:
    """Blocks a worker until one of the watched files changes or ``stop_fd`` is readable.

    Watches are armed only while the worker is idle: a busy worker's own writes would
    otherwise queue a notification for every page written, a cost measured at about a
    sixth of the throughput of a draining consumer (benchmarks/throughput.py).
    """

    def __init__(self, files: list[Path], stop_fd: int | None = None) -> None:
        self.files = {f.name: f for f in files}
        self.stop_fd = stop_fd
        self._inotify = None
        self._wds: dict[int, str] = {}
        self.armed = False
        if files and INotify is not None and sys.platform.startswith("linux"):
            try:
                self._inotify = INotify(nonblocking=True)
            except OSError as exc:
                logger.warning("Cannot watch %s (%s); falling back to polling.", files[0], exc)
                self._inotify = None

    def arm(self) -> None:
        """Start watching.  Look at the queue once more after this, before ``wait``:
        a change made before the watch existed sends no notification."""
        if self._inotify is None or self.armed:
            return
        try:
            directory = next(iter(self.files.values())).parent
            wd = self._inotify.add_watch(directory, flags.CREATE | flags.MOVED_TO)
            self._wds[wd] = ""
            for f in self.files.values():
                self._watch(f)
        except OSError as exc:
            logger.warning("Cannot watch %s (%s); falling back to polling.", directory, exc)
            self.close()
            return
        self.armed = True

    def disarm(self) -> None:
        """Stop watching (the worker is busy); pending notifications are discarded."""
        if self._inotify is None or not self.armed:
            return
        for wd in list(self._wds):
            try:
                self._inotify.rm_watch(wd)
            except OSError:
                pass
        self._wds.clear()
        self.armed = False
        self.drain()

    @property
    def watching(self) -> bool:
        """True when changes are notified; False when the watcher only polls."""
        return self._inotify is not None

    @property
    def idle_timeout(self) -> float:
        return SAFETY_POLL_S if self.watching else FALLBACK_POLL_S

    def _watch(self, path: Path) -> None:
        if self._inotify is None or not path.exists():
            return
        try:
            wd = self._inotify.add_watch(path, flags.MODIFY | flags.CLOSE_WRITE)
        except OSError:
            return  # removed between the check and the watch; the CREATE event re-adds it
        self._wds[wd] = path.name

    def drain(self) -> bool:
        """Consume pending notifications; True if any of them was about the queue."""
        if self._inotify is None:
            return False
        changed = False
        try:
            events = self._inotify.read(timeout=0)
        except (BlockingIOError, InterruptedError):
            return False
        for event in events:
            if event.mask & flags.IGNORED:
                if self._wds.get(event.wd) != "":
                    self._wds.pop(event.wd, None)
            elif event.mask & (flags.CREATE | flags.MOVED_TO):
                if event.name in self.files and self.armed:
                    self._watch(self.files[event.name])
                    changed = True
            elif event.wd in self._wds:
                changed = True
        return changed

    def wait(self, timeout: float | None = None) -> None:
        """Block until a watched file changes, ``stop_fd`` is readable, or ``timeout``."""
        timeout = self.idle_timeout if timeout is None else timeout
        poller = select.poll()
        if self._inotify is not None:
            poller.register(self._inotify.fileno(), select.POLLIN)
        if self.stop_fd is not None:
            poller.register(self.stop_fd, select.POLLIN)
        try:
            poller.poll(max(timeout, 0) * 1000)
        except InterruptedError:
            pass

    def close(self) -> None:
        if self._inotify is not None:
            try:
                self._inotify.close()
            except OSError:
                pass
        self._inotify = None
        self._wds.clear()


class StopPipe:
    """A pipe that becomes readable, for good, when the consumer stops.

    Idle workers include its read end in their ``poll()``, so a stop wakes them at once
    (threads and forked worker processes alike).
    """

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()

    def set(self) -> None:
        try:
            os.write(self.write_fd, b"x")
        except OSError:
            pass
