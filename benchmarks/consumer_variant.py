"""Our consumer with one of its parts switched off, for measuring what each part costs.

``python -m benchmarks.consumer_variant VARIANT consumer --huey ...``: ``no-inflight``
takes messages with Huey's own dequeue (no in-flight record: a crash can lose a task),
``no-journal`` records no events (no journal writer process), ``no-send`` builds every
record but drops it instead of sending it to the writer, ``one-send`` holds a task's
"executing" record back and sends it with the task's next record in one datagram (a long
task would show as running late: an experiment, not a design), ``bare`` no in-flight
record and
no journal; the rest of
our consumer (heartbeat, wake-up, recovery, the execute guard) stays.  Benchmarks only:
each variant gives up a guarantee the product keeps.
"""

from __future__ import annotations

import sys

VARIANTS = ("no-inflight", "no-journal", "no-send", "one-send", "bare")


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


def main(argv: list[str]) -> int:
    if not argv:
        raise SystemExit(f"usage: consumer_variant {{{','.join(VARIANTS)}}} consumer ...")
    switch_off(argv[0])
    from desktop_app.cli import main as desk_main

    return desk_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
