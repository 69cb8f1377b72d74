"""A separate process that writes the consumer's journal records.

Writing to SQLite and encoding JSON take the GIL; done by a thread inside the consumer
they slowed its workers by a third (benchmarks/throughput.py).  The hooks therefore only
send each record as one datagram over a Unix socket pair, and this process, on the other
core, gathers them into batches and commits them.  It exits when every sender has closed
its end, after writing what it has; it ignores SIGINT and SIGTERM, which are meant for the
consumer, so that a stop never loses the last records.
"""

from __future__ import annotations

import collections
import logging
import marshal
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop_app.core.backends import JournalSpec, connection_fault
from desktop_app.core.journal import Journal, NewEvent

logger = logging.getLogger("huey_desk.journal_writer")

BATCH = 5000
# How long the writer lets records gather after the first one arrives: one commit per
# burst instead of one per record (at 1,000 tasks/s, 10 ms makes batches of about 20
# tasks, which write for 40 % less per event than 5 ms would).  The window sees an
# event at most this much later.
LINGER_S = 0.010
MAX_DATAGRAM = 256 * 1024
# How long a batch waits for a journal server that cannot be reached (Redis restarting)
# before it is dropped; meanwhile the records wait in the socket's buffer.
OUTAGE_S = 120.0


def as_record(ev: NewEvent) -> tuple:
    """An event as the plain tuple that travels to the writer."""
    return (ev.kind, ev.task_id, ev.task_name, ev.ts, ev.pid, ev.worker, ev.consumer, ev.data)


def encode_records(records: list[tuple]) -> list[bytes]:
    """Records as datagrams, each at most ``MAX_DATAGRAM`` bytes.

    ``marshal`` rather than JSON: it is several times cheaper, and it carries only plain
    data (the channel is a private socket pair between the consumer and its own writer,
    never the queue's data).
    """
    raw = marshal.dumps(records)
    if len(raw) <= MAX_DATAGRAM:
        return [raw]
    if len(records) == 1:
        kind, task_id, task_name, ts, pid, worker, consumer, data = records[0]
        slim = {k: v for k, v in data.items() if k not in ("traceback", "args", "kwargs")}
        slim["truncated"] = True
        return [marshal.dumps([(kind, task_id, task_name, ts, pid, worker, consumer, slim)])]
    half = len(records) // 2
    return encode_records(records[:half]) + encode_records(records[half:])


def decode_records(raw: bytes) -> list[NewEvent]:
    """The events in one datagram."""
    return [
        NewEvent(kind, task_id, task_name, ts, pid, worker, consumer, data or {})
        for kind, task_id, task_name, ts, pid, worker, consumer, data in marshal.loads(raw)
    ]


def write_batches(receive: Callable[[bool], Any], journal: Journal) -> None:
    """Gather records from ``receive(block)`` into batches and append them.

    ``receive`` returns an event, False when nothing is waiting (non-blocking), None at
    the end of input, or a ``threading.Event`` that is set once everything received
    before it is written (a flush).  A batch that cannot be written is retried, then
    logged: the consumer must go on running tasks even when the journal is unwritable.
    """
    while True:
        first = receive(True)
        if first is None:
            return
        time.sleep(LINGER_S)
        batch = [first]
        done = False
        while len(batch) < BATCH:
            item = receive(False)
            if item is None:
                done = True
                break
            if item is False:
                break
            batch.append(item)
        events = [b for b in batch if isinstance(b, NewEvent)]
        _append(journal, events)
        for item in batch:
            if isinstance(item, threading.Event):
                item.set()
        if done:
            return


def _append(journal: Journal, events: list[NewEvent]) -> None:
    """Append, retried: 5 attempts for an error, and for as long as ``OUTAGE_S`` while the
    journal's server cannot be reached (a Redis restart must not lose the records)."""
    attempt = 0
    started = time.monotonic()
    while True:
        attempt += 1
        try:
            journal.append(events)
            return
        except Exception as exc:
            fault = connection_fault(exc)
            if fault is not None:
                if time.monotonic() - started > OUTAGE_S:
                    logger.error("Dropped %d journal records: %s", len(events), fault)
                    return
                if attempt == 1:
                    logger.warning("Could not write %d journal records: %s", len(events), fault)
                time.sleep(min(0.05 * attempt, 1.0))
                continue
            logger.exception(
                "Could not write %d journal records (attempt %d)", len(events), attempt
            )
            if attempt >= 5:
                return
            time.sleep(0.2 * attempt)


def serve(sock: socket.socket, spec: JournalSpec | str) -> None:
    """Read datagrams from ``sock`` into the journal until every sender has closed.

    ``spec`` is a ``backends.JournalSpec`` (or a SQLite journal's path)."""
    journal = open_journal(spec)

    pending: collections.deque[NewEvent] = collections.deque()

    def receive(block: bool) -> NewEvent | bool | None:
        while not pending:
            sock.setblocking(block)
            try:
                raw = sock.recv(MAX_DATAGRAM)
            except BlockingIOError:
                return False
            except InterruptedError:
                continue
            if not raw:
                return None  # end of input: every sender closed its end
            try:
                pending.extend(decode_records(raw))
            except (ValueError, TypeError, EOFError):
                logger.warning("Dropped a malformed journal datagram")
        return pending.popleft()

    write_batches(receive, journal)
    journal.close()


def open_journal(spec: JournalSpec | str | os.PathLike[str]) -> Journal:
    """The journal of a spec, or of a SQLite journal's path."""
    if not isinstance(spec, JournalSpec):
        spec = JournalSpec.sqlite(spec)
    return spec.open()


class WriterProcess:
    """The consumer's side: start the writer process and send it records.

    ``send`` runs in the worker: one ``marshal`` and one ``send`` system call.  Batching
    in the consumer through a sender thread was tried and measured slower (ratio to the
    stock consumer 0.71 against 0.83): a thread that wants the GIL every few
    milliseconds makes the workers wait for it.
    """

    def __init__(self, spec: JournalSpec | str | os.PathLike[str]) -> None:
        """``spec``: a ``backends.JournalSpec`` (or a SQLite journal's path).  It is sent
        on the writer's standard input: a command line is visible to every user."""
        if not isinstance(spec, JournalSpec):
            spec = JournalSpec.sqlite(spec)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for s in (ours, theirs):
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            except OSError:
                pass
        self.sock = ours
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "desktop_app.core.journal_writer",
                "-",
                str(theirs.fileno()),
            ],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": _package_root()},
        )
        theirs.close()
        try:
            self.process.stdin.write(spec.to_json().encode())
        finally:
            self.process.stdin.close()

    def send(self, ev: NewEvent) -> None:
        self.send_record(as_record(ev))

    def send_record(self, record: tuple) -> None:
        """Send one record in ``as_record``'s layout: one ``marshal`` and one ``send``."""
        raw = marshal.dumps([record])
        if len(raw) <= MAX_DATAGRAM:
            self.sock.send(raw)
            return
        for part in encode_records([record]):
            self.sock.send(part)

    def flush(self) -> None:
        """Nothing to do: a record has left this process once ``send`` returns."""

    def close(self, timeout: float = 30.0) -> bool:
        """Close our end and wait for the writer to write what it has and exit."""
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return False
        return self.process.returncode == 0


def _package_root() -> str:
    root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + existing if existing else "")


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(format="[%(asctime)s] %(levelname)s:%(name)s:%(message)s")
    where, fd = argv[0], int(argv[1])
    # "-": the journal's spec comes on standard input (a password never on the command line)
    spec = JournalSpec.from_json(sys.stdin.read()) if where == "-" else JournalSpec.sqlite(where)
    sock = socket.socket(fileno=fd)
    serve(sock, spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
