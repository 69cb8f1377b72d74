"""Our consumer with one of its parts switched off, for measuring what each part costs.

``python -m benchmarks.consumer_variant VARIANT consumer --huey ...``: ``no-inflight``
takes messages with Huey's own dequeue (no in-flight record: a crash can lose a task),
``no-journal`` records no events (no journal writer process), ``no-send`` builds every
record but drops it instead of sending it to the writer, ``one-send`` holds a task's
"executing" record back and sends it with the task's next record in one datagram (a long
task would show as running late: an experiment, not a design), ``update-take`` takes a
message by renaming its queue in Huey's table (one UPDATE ... RETURNING, the finished
one deleted in the same transaction) instead of copying it to ``desk_inflight``: the cost
of that design's take, without the recovery that would read it, ``bare`` no in-flight
record and
no journal; the rest of
our consumer (heartbeat, wake-up, recovery, the execute guard) stays.  Benchmarks only:
each variant gives up a guarantee the product keeps.
"""

from __future__ import annotations

import sys

VARIANTS = ("no-inflight", "no-journal", "no-send", "one-send", "update-take", "bare")


def switch_off(variant: str) -> None:
    from desktop_app.core import consumer
    from desktop_app.core.recorder import Recorder

    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; one of: {', '.join(VARIANTS)}")
    if variant in ("no-inflight", "bare"):
        consumer.inflight_for = lambda *args, **kwargs: None  # type: ignore[assignment]
    if variant in ("no-journal", "bare"):
        for name in ("install", "uninstall", "close"):
            setattr(Recorder, name, lambda self: None)
    if variant == "no-send":
        from desktop_app.core.journal_writer import WriterProcess

        WriterProcess.send_record = lambda self, record: None  # type: ignore[method-assign]
    if variant == "one-send":
        _hold_executing_records()
    if variant == "update-take":
        _take_by_renaming_the_queue()


def _hold_executing_records() -> None:
    import marshal
    import threading

    from desktop_app.core.journal_writer import MAX_DATAGRAM, WriterProcess

    held = threading.local()
    send_one = WriterProcess.send_record

    def send_record(self: WriterProcess, record: tuple) -> None:
        first = getattr(held, "record", None)
        if first is None and record[0] == "executing":
            held.record = record
            return
        if first is None:
            send_one(self, record)
            return
        held.record = None
        raw = marshal.dumps([first, record])
        if len(raw) <= MAX_DATAGRAM:
            self.sock.send(raw)
        else:
            send_one(self, first)
            send_one(self, record)

    WriterProcess.send_record = send_record  # type: ignore[method-assign]


def _take_by_renaming_the_queue() -> None:
    from desktop_app.core.inflight import InFlight
    from desktop_app.core.recorder import current_worker_name

    def take(self: InFlight) -> bytes | None:
        storage = self.storage
        done = getattr(self._local, "done", None)
        if not storage.sql(
            "SELECT 1 FROM task WHERE queue = ? LIMIT 1", (storage.name,), results=True
        ):
            self.release()
            return None
        marker = "\x1f".join(
            (storage.name, self.consumer_id, current_worker_name(self.worker_type))
        )
        with storage.db(commit=True) as cursor:
            if done is not None:
                cursor.execute("DELETE FROM task WHERE id = ?", (done,))
            row = cursor.execute(
                "UPDATE task SET queue = ? WHERE id = (SELECT id FROM task WHERE queue = ? "
                "ORDER BY priority DESC, id LIMIT 1) RETURNING id, data",
                (marker, storage.name),
            ).fetchone()
        self._local.done = None
        if row is None:
            return None
        self._local.row, self._local.task_id = row[0], None
        return row[1]

    def release(self: InFlight) -> None:
        row = getattr(self._local, "done", None)
        if row is not None:
            self.storage.sql("DELETE FROM task WHERE id = ?", (row,), commit=True)
            self._local.done = None

    InFlight.take = take  # type: ignore[method-assign]
    InFlight.release = release  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    if not argv:
        raise SystemExit(f"usage: consumer_variant {{{','.join(VARIANTS)}}} consumer ...")
    switch_off(argv[0])
    from desktop_app.cli import main as desk_main

    return desk_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
