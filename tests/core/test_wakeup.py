"""The watcher wakes an idle worker on a write from another connection, or on stop."""

from __future__ import annotations

import threading
import time

from huey import SqliteHuey

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
    stop.close()
    huey.storage.close()


def test_storage_without_files_falls_back_to_polling():
    from huey import MemoryHuey

    watcher = QueueWatcher(watched_files(MemoryHuey("m")))
    watcher.arm()
    assert not watcher.watching
    assert watcher.idle_timeout < 1
    watcher.close()
