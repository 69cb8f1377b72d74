"""Alert rules: each fires once while it holds and clears once; rules persist."""

from __future__ import annotations

import json

from desktop_app.core.alerts import AlertWatch, FactReader, Facts, Rules, load_rules, save_rules
from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import NewEvent

T0 = 1_800_000_000.0


def facts(now=T0, depth=0, oldest=None, workers=(), running=()):
    return Facts(now, depth, oldest, list(workers), list(running))


def rules(**on):
    """Every rule off but those named (with their thresholds)."""
    off = {
        f"{name}_on": False
        for name in (
            "oldest_pending",
            "growing",
            "deeper",
            "failures",
            "failure_rate",
            "heartbeats",
            "long_running",
        )
    }
    return Rules(**{**off, **on})


def test_rules_are_kept_in_a_file_and_a_bad_file_gives_the_defaults(tmp_path):
    path = tmp_path / "alerts.json"
    assert load_rules(path) == Rules()  # nothing saved: the defaults, all but one on
    saved = Rules(oldest_pending_s=60.0, failures_on=False)
    save_rules(saved, path)
    assert load_rules(path) == saved
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.write_text("{not json")
    assert load_rules(path) == Rules()
    path.write_text(json.dumps({"deeper_than": "lots", "oldest_pending_s": 5, "x": 1}))
    loaded = load_rules(path)
    assert loaded.deeper_than == Rules().deeper_than and loaded.oldest_pending_s == 5.0


def test_an_alert_fires_once_while_its_rule_holds_then_clears_once():
    watch = AlertWatch(rules(deeper_on=True, deeper_than=100))
    assert watch.check(facts(depth=50)) == []
    fired = watch.check(facts(T0 + 1, depth=150))
    assert [(a.rule, a.cleared_at) for a in fired] == [("deeper", None)]
    assert "150 tasks" in fired[0].message
    assert watch.check(facts(T0 + 2, depth=170)) == []  # still on: no second notice
    assert "170 tasks" in watch.active["deeper"].message  # its text follows the figures
    cleared = watch.check(facts(T0 + 3, depth=20))
    assert [(a.rule, a.cleared_at) for a in cleared] == [("deeper", T0 + 3)]
    assert not watch.active
    again = watch.check(facts(T0 + 4, depth=200))
    assert [a.rule for a in again] == ["deeper"]
    assert [a.fired_at for a in watch.history] == [T0 + 1, T0 + 4]


def test_the_oldest_pending_task_waiting_too_long():
    watch = AlertWatch(rules(oldest_pending_on=True, oldest_pending_s=300.0))
    assert watch.check(facts(depth=1, oldest=T0 - 100)) == []
    fired = watch.check(facts(T0, depth=1, oldest=T0 - 301))
    assert fired[0].rule == "oldest-pending" and "5 min" in fired[0].message
    assert watch.check(facts(T0 + 1, depth=0, oldest=None))[0].cleared_at == T0 + 1


def test_failures_in_the_last_minutes_and_the_failure_rate():
    watch = AlertWatch(
        rules(
            failures_on=True,
            failures_n=2,
            failures_minutes=5.0,
            failure_rate_on=True,
            failure_rate_pct=50.0,
        )
    )
    ends = [{"kind": "error", "ts": T0 - 10 * i, "data": {}} for i in range(3)]
    ends.append({"kind": "error", "ts": T0, "data": {"retries": 2}})  # retried: no end
    ends.append({"kind": "complete", "ts": T0, "data": {}})
    ends.append({"kind": "error", "ts": T0 - 600, "data": {}})  # long ago
    watch.events(sorted(ends, key=lambda e: e["ts"]))
    got = {a.rule: a.message for a in watch.check(facts(T0))}
    assert "3 tasks failed in the last 5 min" in got["failures"]
    assert "75 %" in got["failure-rate"] and "3 of 4" in got["failure-rate"]
    cleared = watch.check(facts(T0 + 400))  # the failures are now older than 5 minutes
    assert {a.rule for a in cleared} == {"failures", "failure-rate"}


def test_workers_that_stopped_sending_heartbeats_on_any_host():
    watch = AlertWatch(rules(heartbeats_on=True))
    alive = [{"host": "a", "state": "busy"}, {"host": "b", "state": "idle"}]
    assert watch.check(facts(workers=alive)) == []
    dead = [{"host": "a", "state": "dead"}, {"host": "a", "state": "dead"}, alive[1]]
    fired = watch.check(facts(T0 + 1, workers=dead))
    assert fired[0].rule == "heartbeats" and "2 workers" in fired[0].message
    assert "on a" in fired[0].message


def test_a_task_running_far_longer_than_usual():
    watch = AlertWatch(rules(long_running_on=True, long_running_factor=5.0))
    quick = {"task_id": "abcdef123", "task_name": "t.report", "usual": 2.0}
    assert watch.check(facts(running=[{**quick, "started_at": T0 - 8}])) == []  # < 10 s
    assert watch.check(facts(running=[{**quick, "started_at": T0 - 9.5}])) == []
    fired = watch.check(facts(T0, running=[{**quick, "started_at": T0 - 11}]))
    assert fired[0].rule == "long-running" and "t.report [abcdef12]" in fired[0].message
    unknown = {**quick, "usual": None, "started_at": T0 - 1000}  # no history: nothing said
    assert watch.check(facts(T0 + 1, running=[unknown]))[0].cleared_at == T0 + 1


def test_a_queue_that_grew_every_minute_for_n_minutes():
    watch = AlertWatch(rules(growing_on=True, growing_minutes=3))
    changes = []
    for minute, depth in enumerate((10, 20, 30, 40)):
        changes += watch.check(facts(T0 + 60 * minute, depth=depth))
    assert [a.rule for a in changes] == ["growing"]
    assert changes[0].fired_at == T0 + 180
    flat = watch.check(facts(T0 + 240, depth=40))  # the same depth a minute later
    assert [a.cleared_at for a in flat] == [T0 + 240]


def test_a_rule_switched_off_clears_at_the_next_look():
    watch = AlertWatch(rules(deeper_on=True, deeper_than=1))
    watch.check(facts(depth=5))
    watch.set_rules(rules())
    assert [a.rule for a in watch.check(facts(T0 + 1, depth=5))] == ["deeper"]
    assert not watch.active


def test_facts_read_from_the_journal(huey, journal):
    add = huey.test_tasks["add"]
    add(1, 2)
    journal.append(
        [
            NewEvent("enqueued", "p1", "t.add", ts=T0 - 50),
            NewEvent("enqueued", "p2", "t.add", ts=T0 - 20),
            NewEvent("enqueued", "r1", "t.slow", ts=T0 - 40),
            NewEvent("executing", "r1", "t.slow", ts=T0 - 30, worker="w1"),
        ]
    )
    reader = FactReader(Inspector(huey, journal, "x"))
    got = reader.read(now=T0)
    assert got.depth == 1  # storage's count: the one real task in the queue
    assert got.oldest_pending_since == T0 - 50
    assert [t["task_id"] for t in got.running] == ["r1"]
    assert got.running[0]["usual"] is None  # t.slow never completed yet
