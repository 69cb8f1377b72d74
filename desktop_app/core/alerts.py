"""Alerts: rules over the queue and the journal that fire once and clear once.

The rules a user sets are kept in ``alerts.json`` in the data folder, shared by the
window (View → Alerts…) and ``huey-desk watch``.  An ``AlertWatch`` is fed the events
the journal gives and, about once a second, a ``Facts`` read from storage; it answers
with the alerts that fired and those that cleared since the last look.  One alert per
rule at a time: a rule that holds stays fired (no storm of repeats) until it no longer
holds, then it clears, and may fire again later.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from itertools import pairwise
from pathlib import Path
from typing import Any

from desktop_app.core import paths
from desktop_app.core.states import COMPLETE, ENQUEUED, ERROR, FAILED_STATES

RULES_FILE = "alerts.json"
# Each rule's name, as alerts and ``watch --json`` carry it, and the words people read.
RULE_LABELS = {
    "oldest-pending": "Pending too long",
    "deeper": "Queue too deep",
    "growing": "Queue growing",
    "failures": "Failures",
    "failure-rate": "Failure rate",
    "heartbeats": "Heartbeats lost",
    "long-running": "Running too long",
}
LONG_RUN_MIN_S = 10.0  # "N x its usual duration" is not said of a task under this
HISTORY_KEPT = 200  # fired / cleared alerts kept for the panel


@dataclass(frozen=True)
class Rules:
    """What to be told about; each rule has its threshold and a switch.  The defaults
    are on and meant for a queue that normally drains within minutes."""

    oldest_pending_on: bool = True
    oldest_pending_s: float = 300.0
    growing_on: bool = True
    growing_minutes: int = 10
    deeper_on: bool = True
    deeper_than: int = 10_000
    failures_on: bool = True
    failures_n: int = 10
    failures_minutes: float = 5.0
    failure_rate_on: bool = False
    failure_rate_pct: float = 20.0
    heartbeats_on: bool = True
    long_running_on: bool = True
    long_running_factor: float = 5.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rules:
        """Rules from stored JSON; unknown keys are ignored, wrong types keep the default."""
        defaults = cls()
        values = {}
        for f in fields(cls):
            value = data.get(f.name, getattr(defaults, f.name))
            wanted = type(getattr(defaults, f.name))
            if wanted is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            values[f.name] = value if isinstance(value, wanted) else getattr(defaults, f.name)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rules_path() -> Path:
    """Where the rules are kept: ``alerts.json`` in the user data folder."""
    return paths.data_dir() / RULES_FILE


def load_rules(path: Path | None = None) -> Rules:
    """The saved rules, or the defaults when none are saved or the file is unreadable."""
    path = path or rules_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Rules()
    return Rules.from_dict(data) if isinstance(data, dict) else Rules()


def save_rules(rules: Rules, path: Path | None = None) -> Path:
    """Write the rules (readable by the user only), atomically; the path written."""
    path = path or rules_path()
    paths.ensure_private_dir(path.parent)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(rules.as_dict(), indent=2), encoding="utf-8")
    scratch.chmod(0o600)
    scratch.replace(path)
    return path


@dataclass(frozen=True)
class Facts:
    """What storage says now, as the monitor or ``watch`` read it."""

    now: float
    depth: int  # pending + scheduled
    oldest_pending_since: float | None  # when the longest-waiting pending task was enqueued
    workers: list[dict[str, Any]] = field(default_factory=list)  # Inspector.workers()
    # running tasks: task_id, task_name, started_at, and the task's usual duration
    running: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Alert:
    """One rule that fired: when, what it said, and when it cleared (None: still on)."""

    rule: str
    message: str
    fired_at: float
    cleared_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AlertWatch:
    """Keeps the rules' state between looks: ``events`` adds what the journal told,
    ``check`` compares the rules with the facts and returns what changed."""

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or Rules()
        self.active: dict[str, Alert] = {}
        self.history: deque[Alert] = deque(maxlen=HISTORY_KEPT)  # newest last
        self._ends: deque[tuple[float, bool]] = deque()  # (time, failed) of each end
        self._depths: deque[tuple[float, int]] = deque()  # one sample a minute at most

    def set_rules(self, rules: Rules) -> None:
        """New rules apply at the next look; a rule switched off clears then."""
        self.rules = rules

    def events(self, events: Iterable[Any]) -> None:
        """Note the ends the journal reported (Event objects or their dicts)."""
        for e in events:
            kind = e["kind"] if isinstance(e, dict) else e.kind
            if kind != COMPLETE and kind not in FAILED_STATES:
                continue
            data = (e.get("data") if isinstance(e, dict) else e.data) or {}
            if kind == ERROR and data.get("retries"):
                continue  # an attempt that will be retried: not an end yet
            ts = e["ts"] if isinstance(e, dict) else e.ts
            self._ends.append((ts, kind in FAILED_STATES))

    def check(self, facts: Facts) -> list[Alert]:
        """The alerts that fired or cleared with these facts (cleared ones have
        ``cleared_at`` set), oldest rule first; the active set is kept up to date."""
        self._remember_depth(facts)
        holding = self._holding(facts)
        changed: list[Alert] = []
        for rule in list(self.active):
            if rule not in holding:
                alert = self.active.pop(rule)
                alert.cleared_at = facts.now
                changed.append(alert)
        for rule, message in holding.items():
            if rule not in self.active:
                alert = Alert(rule, message, facts.now)
                self.active[rule] = alert
                self.history.append(alert)
                changed.append(alert)
            else:  # still on: the text follows the figures, without a new notification
                self.active[rule].message = message
        return changed

    # -- the rules ---------------------------------------------------------------------
    def _holding(self, facts: Facts) -> dict[str, str]:
        """Each rule that holds now, with its one sentence."""
        r = self.rules
        out: dict[str, str] = {}
        if r.oldest_pending_on and facts.oldest_pending_since is not None:
            waited = facts.now - facts.oldest_pending_since
            if waited > r.oldest_pending_s:
                out["oldest-pending"] = (
                    f"The oldest pending task has waited {_span(waited)} "
                    f"(more than {_span(r.oldest_pending_s)}): are the workers keeping up?"
                )
        if r.deeper_on and facts.depth > r.deeper_than:
            out["deeper"] = f"The queue holds {facts.depth:,} tasks (more than {r.deeper_than:,})."
        if r.growing_on and self._grew_for(r.growing_minutes, facts):
            out["growing"] = (
                f"The queue has grown for {r.growing_minutes} minutes in a row "
                f"({facts.depth:,} tasks now)."
            )
        failures, ends = self._recent_ends(facts.now, r.failures_minutes)
        window = _span(r.failures_minutes * 60)
        if r.failures_on and failures > r.failures_n:
            out["failures"] = (
                f"{failures} task{'s' if failures != 1 else ''} failed in the last {window} "
                f"(more than {r.failures_n})."
            )
        if r.failure_rate_on and ends and 100.0 * failures / ends > r.failure_rate_pct:
            rate = 100.0 * failures / ends
            out["failure-rate"] = (
                f"{rate:.0f} % of the tasks that ended in the last {window} failed "
                f"({failures} of {ends}; more than {r.failure_rate_pct:g} %)."
            )
        if r.heartbeats_on:
            dead = [w for w in facts.workers if w.get("state") == "dead"]
            if dead:
                hosts = sorted({str(w.get("host") or "?") for w in dead})
                out["heartbeats"] = (
                    f"{len(dead)} worker{'s' if len(dead) != 1 else ''} stopped sending "
                    f"heartbeats (on {', '.join(hosts)}): a consumer died or lost its storage."
                )
        if r.long_running_on:
            slow = []
            for t in facts.running:
                usual, since = t.get("usual"), t.get("started_at")
                if not usual or since is None:
                    continue
                ran = facts.now - since
                if ran >= LONG_RUN_MIN_S and ran > r.long_running_factor * usual:
                    slow.append(f"{t.get('task_name')} [{str(t.get('task_id'))[:8]}] {_span(ran)}")
            if slow:
                out["long-running"] = (
                    f"Running longer than {r.long_running_factor:g} times their usual time: "
                    f"{'; '.join(slow[:3])}"
                    + (f" and {len(slow) - 3} more." if len(slow) > 3 else ".")
                )
        return out

    def _recent_ends(self, now: float, minutes: float) -> tuple[int, int]:
        """Failures and all ends within the last ``minutes``, forgetting older ones."""
        keep_from = now - max(minutes, self.rules.failures_minutes) * 60
        while self._ends and self._ends[0][0] < keep_from:
            self._ends.popleft()
        since = now - minutes * 60
        recent = [failed for ts, failed in self._ends if ts >= since]
        return sum(recent), len(recent)

    def _remember_depth(self, facts: Facts) -> None:
        if not self._depths or facts.now - self._depths[-1][0] >= 60:
            self._depths.append((facts.now, facts.depth))
        horizon = facts.now - (self.rules.growing_minutes + 2) * 60
        while self._depths and self._depths[0][0] < horizon:
            self._depths.popleft()

    def _grew_for(self, minutes: int, facts: Facts) -> bool:
        """Deeper at each minute's sample than at the one before, over ``minutes``
        minutes, and no shallower now than at the last sample."""
        if minutes < 1:
            return False
        start = facts.now - minutes * 60 - 30
        window = [d for ts, d in self._depths if ts >= start]
        spans = [ts for ts, _d in self._depths if ts >= start]
        if len(window) < minutes + 1 or facts.now - spans[0] < minutes * 60 - 30:
            return False
        rising = all(b > a for a, b in pairwise(window))
        return rising and facts.depth >= window[-1]


class FactReader:
    """Reads ``Facts`` for one queue: from the status the monitor has anyway, plus the
    oldest pending task and the running tasks' usual durations (from the journal; those
    are read again once a minute, not at every look)."""

    USUAL_KEPT_S = 60.0

    def __init__(self, inspector: Any) -> None:
        self.inspector = inspector
        self._usual: dict[str | None, tuple[float, float | None]] = {}

    def read(self, status: dict[str, Any] | None = None, now: float | None = None) -> Facts:
        journal = self.inspector.journal
        status = status if status is not None else self.inspector.status()
        now = time.time() if now is None else now
        waiting, _next = journal.tasks_in_state(ENQUEUED, None, 200)
        times = [t["state_ts"] for t in waiting if t.get("state_ts")]
        running = [
            {**t, "usual": self._usual_for(t.get("task_name"), now)}
            for t in journal.running_tasks()
        ]
        return Facts(
            now=now,
            depth=status["pending"] + status["scheduled"],
            oldest_pending_since=min(times) if times else None,
            workers=list(status.get("workers", [])),
            running=running,
        )

    def _usual_for(self, name: str | None, now: float) -> float | None:
        kept = self._usual.get(name)
        if kept is None or now - kept[0] > self.USUAL_KEPT_S:
            kept = (now, self.inspector.journal.typical_duration(name))
            self._usual[name] = kept
        return kept[1]


def _span(seconds: float) -> str:
    """A duration as people say it: 45 s, 5 min, 2 h 5 min."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


class AlertFeed:
    """The rules over one queue, for a process without a monitor (``huey-desk watch``):
    each ``poll`` reads the journal's new events by cursor and the facts, and returns
    what fired or cleared."""

    TAIL_BATCH = 5000

    def __init__(self, inspector: Any, rules: Rules | None = None) -> None:
        self.inspector = inspector
        self.watch = AlertWatch(rules)
        self.reader = FactReader(inspector)
        # failures count from now: a watch started after a bad hour says nothing of it
        self._cursor = inspector.journal.last_id()

    def poll(self, now: float | None = None) -> list[Alert]:
        journal = self.inspector.journal
        while True:
            events = journal.tail(self._cursor, self.TAIL_BATCH)
            if not events:
                break
            self.watch.events(events)
            self._cursor = events[-1].cursor
            if len(events) < self.TAIL_BATCH:
                break
        return self.watch.check(self.reader.read(now=now))
