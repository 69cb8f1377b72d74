"""Who is gone: the one rule for consumers, their worker processes and the tasks they ran.

A task whose last state is "executing" was interrupted when its consumer is gone.  That
is decided here and nowhere else (status, show, retry and recovery all ask ``Liveness``):

- a consumer that was stopped on purpose is gone;
- a consumer on this host is gone when its process is (a pid reused by a newer process
  does not count), once it has been silent for ``SETTLE_S`` so that its journal writer's
  last records are in;
- a consumer on another host is gone when the journal says its heartbeat expired (Redis:
  its ``alive`` key, with a TTL on the server's clock), or, for a journal that cannot
  tell (SQLite), after ``REMOTE_STALE_AFTER_S`` without a heartbeat: a pid means nothing
  there, and clocks differ.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import psutil

from desktop_app.core.journal import STALE_AFTER_S, Journal
from desktop_app.core.states import EXECUTING

# A dead consumer's journal writer drains its last records within milliseconds; waiting
# until the consumer has been silent this long means they are written before ours (a
# late "executing" would otherwise blank the interruption's error).  Beats come every
# second, so a verifiably dead consumer is found 0.5 to 1.5 s after it died.
SETTLE_S = 1.5
# A consumer on another host is only taken for dead after this long without a beat.
REMOTE_STALE_AFTER_S = 60.0
# A process created this long after the one we knew started is another process that
# reused the pid (process start times are known to about a second).
CREATE_TIME_SLACK_S = 2.0


def host_name() -> str:
    """This machine's name as consumers record it: ``HUEY_DESK_HOST`` when set (containers
    that share a host name, tests of several hosts on one machine), else the host name."""
    return os.environ.get("HUEY_DESK_HOST") or socket.gethostname()


def process_alive(pid: int | None, started_by: float | None = None) -> bool:
    """True if process ``pid`` exists, is not a zombie and (given ``started_by``, a time
    the process we mean already existed) is not a newer process that reused the pid."""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        reused = started_by is not None and proc.create_time() > started_by + CREATE_TIME_SLACK_S
        return not reused
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # it exists, we may not look at it


def parse_consumer_id(consumer_id: str) -> tuple[str | None, int | None, float | None]:
    """Host, pid and start time from an id made by ``consumer.new_consumer_id``."""
    try:
        host, pid, millis = consumer_id.rsplit(":", 2)
        return host, int(pid), int(millis) / 1000
    except (AttributeError, ValueError):
        return None, None, None


class Liveness:
    """Decides, for one look at the journal's consumers, who is gone (answers cached)."""

    def __init__(self, journal: Journal, host: str, now: float | None = None) -> None:
        self.journal = journal
        self.host = host
        self.now = time.time() if now is None else now
        self._consumers: dict[str, dict[str, Any]] | None = None
        self._gone: dict[str | None, str | None] = {}

    def info(self, consumer_id: str | None) -> dict[str, Any]:
        """The journal's record of a consumer, or what its id tells when there is none."""
        if self._consumers is None:
            self._consumers = {c["consumer_id"]: c for c in self.journal.consumers()}
        found = self._consumers.get(consumer_id) if consumer_id else None
        if found is not None:
            return {**found, "known": True}
        host, pid, started = parse_consumer_id(consumer_id or "")
        return {
            "host": host,
            "pid": pid,
            "started_at": started,
            "last_beat": started,
            "stopped_at": None,
            "known": False,
        }

    def consumer_gone(self, consumer_id: str | None) -> str | None:
        """Why the consumer counts as gone, or None while it may still be running."""
        if consumer_id not in self._gone:
            self._gone[consumer_id] = self._consumer_gone(consumer_id)
        return self._gone[consumer_id]

    def _consumer_gone(self, consumer_id: str | None) -> str | None:
        info = self.info(consumer_id)
        if info["stopped_at"] is not None:
            return "the consumer was stopped"
        silent = self.now - (info["last_beat"] or 0)
        if info["host"] == self.host and info["pid"]:
            if process_alive(info["pid"], info["started_at"]):
                return None
            return "the consumer died" if silent >= SETTLE_S else None
        if not info["known"]:
            # no record of it: alive elsewhere, or from a journal pruned since
            return None if info["host"] else "the consumer is unknown"
        expired = self.journal.heartbeat_expired(consumer_id or "")
        if expired is not None:
            if expired:
                return f"the consumer on {info['host']} stopped beating ({int(silent)} s ago)"
            return None
        if silent > REMOTE_STALE_AFTER_S:
            return f"the consumer on {info['host']} has been silent for {int(silent)} s"
        return None

    def worker_state(self, row: dict[str, Any]) -> str:
        """idle, busy, stopped or dead, for a worker row of ``Journal.workers``: dead when
        its consumer is gone (the rule above, so a worker is never busy with a task shown
        interrupted) or when the worker itself stopped beating while its consumer lives."""
        if row.get("consumer_stopped_at"):
            return "stopped"
        if self.consumer_gone(row.get("consumer_id")) is not None:
            return "dead"
        if self.now - max(row.get("last_beat") or 0, 0) > STALE_AFTER_S:
            return "dead"
        return row.get("state") or "idle"

    def interrupted(self, record: dict[str, Any] | None) -> str | None:
        """Why a task the journal shows running was interrupted, or None if it was not
        (it is not running, or its consumer may still be running it)."""
        if record is None or record.get("state") != EXECUTING:
            return None
        return self.consumer_gone(record.get("consumer"))
