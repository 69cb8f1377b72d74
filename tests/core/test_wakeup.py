"""The watcher wakes an idle worker on a write from another connection, or on stop."""

from __future__ import annotations

import os
import threading
import time

import pytest
from huey import SqliteHuey

from desktop_app.core.consumer import DeskWorker
from desktop_app.core.wakeup import QueueWatcher, StopPipe, watched_files


def test_watches_the_queue_file_and_its_log(tmp_path):
    huey = SqliteHuey("w", filename=str(tmp_path / "q.db"))
    names = [p.name for p in watched_files(huey)]
    assert names == ["q.db", "q.db-wal"]


def test_write_from_another_connection_wakes_the_waiter(tmp_path):
    consumer_side = SqliteHuey("w", filename=str(tmp_path / "q.db"))
    consumer_side.storage.queue_size()  # opens the connection, as a worker has
    watcher = QueueWatcher(watched_files(consumer_side))
    watcher.arm()
    assert watcher.watching and watcher.armed
    producer = SqliteHuey("w", filename=str(tmp_path / "q.db"))
    writer = threading.Timer(0.05, lambda: producer.storage.enqueue(b"x", 0))
    started = time.monotonic()
    writer.start()
    watcher.wait(10)
    woke_after = time.monotonic() - started
    writer.join()
    assert woke_after < 5, "the wait ran into its timeout: no notification arrived"
    assert watcher.drain()
    watcher.disarm()
    assert not watcher.armed
    watcher.close()
    for h in (consumer_side, producer):
        h.storage.close()


def test_stop_pipe_wakes_the_waiter(tmp_path):
    huey = SqliteHuey("w", filename=str(tmp_path / "q.db"))
    stop = StopPipe()
    watcher = QueueWatcher(watched_files(huey), stop.read_fd)
    watcher.arm()
    setter = threading.Timer(0.05, stop.set)
    started = time.monotonic()
    setter.start()
    watcher.wait(10)
    setter.join()
    assert time.monotonic() - started < 5
    watcher.close()
    os.close(stop.read_fd)
    os.close(stop.write_fd)
    huey.storage.close()


def test_storage_without_files_falls_back_to_polling():
    from huey import MemoryHuey

    watcher = QueueWatcher(watched_files(MemoryHuey("m")))
    watcher.arm()
    assert not watcher.watching
    assert watcher.idle_timeout < 1
    watcher.close()


class RecordingFlag:
    """A stop flag that records each wait and returns at once (never set)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return False

    def set(self) -> None:
        raise AssertionError("not expected")

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return False


def _worker(huey, flag):
    worker = DeskWorker(huey, flag, 0.1, 1.0, 2.0)  # Huey's delay, max_delay, backoff
    worker.watch_files = watched_files(huey)
    worker.initialize()
    return worker


def test_a_failing_storage_is_retried_with_hueys_back_off(caplog):
    from huey import MemoryHuey

    huey = MemoryHuey("m")

    @huey.task()
    def nop() -> None:
        pass

    flag = RecordingFlag()
    worker = _worker(huey, flag)
    real_dequeue = huey.storage.dequeue
    huey.storage.dequeue = lambda: (_ for _ in ()).throw(OSError("storage down"))
    for _ in range(6):
        worker.loop()
    assert flag.waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert caplog.text.count("Error reading from queue") == 6
    huey.storage.dequeue = real_dequeue
    nop()
    worker.loop()  # a task again: the delay starts over, as in Huey
    huey.storage.dequeue = lambda: (_ for _ in ()).throw(OSError("storage down"))
    worker.loop()
    assert flag.waits[-1] == pytest.approx(0.1)
    worker.shutdown()


def test_an_empty_queue_still_waits_for_a_change_not_a_delay(tmp_path):
    huey = SqliteHuey("w", filename=str(tmp_path / "q.db"))
    flag = RecordingFlag()
    worker = _worker(huey, flag)
    worker.loop()  # empty: the watch is armed for an instant wake-up, no back-off wait
    assert worker._watcher.armed and flag.waits == []
    worker.shutdown()
    huey.storage.close()


def test_watched_files_are_the_queue_file_paths_names(tmp_path, monkeypatch):
    from desktop_app.core.paths import sqlite_filename

    monkeypatch.chdir(tmp_path)
    huey = SqliteHuey("w", filename="rel.db")  # relative: resolved the one way paths does
    assert watched_files(huey) == [sqlite_filename(huey), tmp_path.resolve() / "rel.db-wal"]
    huey.storage.close()


class BlockingTake:
    """An in-flight tracker whose take blocks by itself (as Redis's ``BLMOVE`` does)."""

    blocking = True

    def __init__(self) -> None:
        self.finished = 0

    def finish(self) -> None:
        self.finished += 1

    def abandon(self) -> None:
        pass

    def release(self) -> None:
        pass


def test_after_an_empty_blocking_take_the_worker_looks_again_at_once(monkeypatch):
    from huey import MemoryHuey

    huey = MemoryHuey("m")
    flag = RecordingFlag()
    worker = _worker(huey, flag)
    worker.inflight = BlockingTake()
    waited = []
    monkeypatch.setattr(worker._watcher, "wait", lambda timeout=None: waited.append(timeout))
    for _ in range(3):
        worker.loop()  # empty each time: no wait of ours, no back-off, no arming
    assert flag.waits == [] and waited == [] and not worker._watcher.armed
    # a storage error still backs off as Huey does (Redis down)
    huey.storage.dequeue = lambda: (_ for _ in ()).throw(OSError("storage down"))
    worker.loop()
    worker.loop()
    assert flag.waits == pytest.approx([0.1, 0.2])
    worker.shutdown()
