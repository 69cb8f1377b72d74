"""Task states and event kinds: the stored names, their groups, and the words users see.

The stored names are Huey's signal names (``complete``, ``error``, ``executing``...):
they are what the journal keeps and what ``--json`` output carries.  People read other
words (``done``, ``failed``, ``running``...): ``label`` gives the one word for each
state, used alike by every panel, the tray, the filters and the command line's text.
"""

from __future__ import annotations

# Event kinds: Huey's signals plus our own (progress, restored, flushed).
ENQUEUED = "enqueued"
SCHEDULED = "scheduled"
EXECUTING = "executing"
PROGRESS = "progress"
COMPLETE = "complete"
ERROR = "error"
RETRYING = "retrying"
REVOKED = "revoked"
RESTORED = "restored"
EXPIRED = "expired"
LOCKED = "locked"
CANCELED = "canceled"
INTERRUPTED = "interrupted"
TIMEOUT = "timeout"
RATE_LIMITED = "rate-limited"
FLUSHED = "flushed"

# States after which a task does nothing more unless someone runs it again.
FINAL_STATES = (
    COMPLETE,
    ERROR,
    REVOKED,
    EXPIRED,
    LOCKED,
    CANCELED,
    INTERRUPTED,
    TIMEOUT,
    RATE_LIMITED,
    FLUSHED,
)
# States a task leaves by itself: waiting for a worker or a time, running, retrying.
TRANSIENT_STATES = (ENQUEUED, SCHEDULED, EXECUTING, RETRYING)
# Waiting in the queue or the schedule: what revoke, restore and run-now act on.
WAITING_STATES = (ENQUEUED, SCHEDULED)
# Ended badly: counted as failures by the charts, the tray and the notifications.
FAILED_STATES = (ERROR, INTERRUPTED, TIMEOUT)

# The task state an event moves a task to; progress changes no state.
STATE_OF = {
    ENQUEUED: ENQUEUED,
    SCHEDULED: SCHEDULED,
    EXECUTING: EXECUTING,
    COMPLETE: COMPLETE,
    ERROR: ERROR,
    RETRYING: RETRYING,
    REVOKED: REVOKED,
    RESTORED: ENQUEUED,
    EXPIRED: EXPIRED,
    LOCKED: LOCKED,
    CANCELED: CANCELED,
    INTERRUPTED: INTERRUPTED,
    TIMEOUT: TIMEOUT,
    RATE_LIMITED: RATE_LIMITED,
}

# One word per state (and per event kind), as the README uses them.  "busy" is kept for
# a worker; a task is "running".
LABELS = {
    ENQUEUED: "pending",
    SCHEDULED: "scheduled",
    EXECUTING: "running",
    PROGRESS: "progress",
    COMPLETE: "done",
    ERROR: "failed",
    RETRYING: "retrying",
    REVOKED: "revoked",
    RESTORED: "restored",
    EXPIRED: "expired",
    LOCKED: "locked",
    CANCELED: "canceled",
    INTERRUPTED: "interrupted",
    TIMEOUT: "timed out",
    RATE_LIMITED: "rate-limited",
    FLUSHED: "flushed",
}
# The states a user can filter the tasks table by, in the order a menu lists them.
FILTER_STATES = (
    COMPLETE,
    ERROR,
    EXECUTING,
    RETRYING,
    INTERRUPTED,
    REVOKED,
    EXPIRED,
    ENQUEUED,
    SCHEDULED,
)
_BY_LABEL = {text: state for state, text in LABELS.items()}


def label(state: str | None) -> str:
    """The word users see for a stored state or event kind (unknown names as they are)."""
    if state is None:
        return ""
    return LABELS.get(state, state)


def from_label(text: str) -> str:
    """The stored state for a word a user typed: a label or a stored name alike."""
    cleaned = text.strip().lower()
    return _BY_LABEL.get(cleaned, cleaned)
