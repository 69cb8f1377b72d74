"""Metrics export: figures folded from the journal's events and read from storage."""

from __future__ import annotations

import datetime as dt
import math

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import NewEvent
from desktop_app.core.metrics import JournalMetrics
from tests.helpers import wait_until


def scrape(metrics: JournalMetrics) -> dict[tuple[str, tuple], float]:
    """Every sample of one collection, keyed by name and sorted labels."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def lifecycle(task_id, name, start, *, end="complete", waited=0.5, ran=0.2, **end_data):
    yield NewEvent("enqueued", task_id, name, ts=start)
    yield NewEvent("executing", task_id, name, ts=start + waited)
    yield NewEvent(end, task_id, name, ts=start + waited + ran, data={"duration": ran, **end_data})


def test_counters_start_when_the_exporter_starts_and_count_each_end(huey, journal):
    journal.append(lifecycle("old", "t.add", 1000.0))  # before the exporter: not counted
    metrics = JournalMetrics(Inspector(huey, journal, "x"), journal)
    events = [
        *lifecycle("a", "t.add", 2000.0),
        *lifecycle("b", "t.add", 2000.0, waited=1.5, ran=0.4),
        *lifecycle("c", "t.boom", 2000.0, end="error", retries=0, error="boom"),
        *lifecycle("d", "t.boom", 2000.0, end="error", retries=2, error="boom"),  # retried
        *lifecycle("e", "t.add", 2000.0, end="interrupted"),
    ]
    journal.append(events)
    got = scrape(metrics)
    q = ("queue", huey.name)

    def finished(task, state):
        return got.get(("huey_desk_tasks_finished_total", (q, ("state", state), ("task", task))))

    assert finished("t.add", "done") == 2
    assert finished("t.boom", "failed") == 1  # the error with retries left is not an end
    assert finished("t.add", "interrupted") == 1
    assert got[("huey_desk_tasks_interrupted_total", (q, ("task", "t.add")))] == 1
    durations = ("huey_desk_task_duration_seconds_sum", (q, ("task", "t.add")))
    assert math.isclose(got[durations], 0.2 + 0.4 + 0.2)
    waits = ("huey_desk_queue_wait_seconds_sum", (q, ("task", "t.add")))
    assert math.isclose(got[waits], 0.5 + 1.5 + 0.5)
    # read from the journal now, whatever the exporter saw: the old task is there
    assert got[("huey_desk_tasks", (q, ("state", "done")))] == 3
    assert got[("huey_desk_up", (q,))] == 1
    assert got[("huey_desk_journal_lag_seconds", (q,))] > 0
    # a second scrape reads only what is new: the counters do not double
    again = scrape(metrics)
    assert (
        again[("huey_desk_tasks_finished_total", (q, ("state", "done"), ("task", "t.add")))] == 2
    )


def test_queue_depth_is_read_from_storage_at_each_scrape(huey, journal):
    metrics = JournalMetrics(Inspector(huey, journal, "x"), journal)
    add = huey.test_tasks["add"]
    add(1, 2)
    add.schedule((1, 2), delay=3600)
    huey.add_schedule(huey.dequeue())  # as a worker does with a task not due yet
    add(3, 4)
    got = scrape(metrics)
    q = ("queue", huey.name)
    assert got[("huey_desk_queue_depth", (q, ("where", "pending")))] == 2
    assert got[("huey_desk_queue_depth", (q, ("where", "scheduled")))] == 1


def test_the_wait_of_a_delayed_task_counts_from_when_it_was_due(huey, journal):
    metrics = JournalMetrics(Inspector(huey, journal, "x"), journal)
    due = dt.datetime(2026, 1, 1, 12, 0, 0)  # naive UTC, as Huey keeps it
    due_ts = due.replace(tzinfo=dt.UTC).timestamp()
    journal.append(
        [
            NewEvent("enqueued", "late", "t.add", ts=due_ts - 3600),
            NewEvent(
                "executing", "late", "t.add", ts=due_ts + 0.25, data={"eta": due.isoformat()}
            ),
        ]
    )
    got = scrape(metrics)
    waits = ("huey_desk_queue_wait_seconds_sum", (("queue", huey.name), ("task", "t.add")))
    assert math.isclose(got[waits], 0.25, abs_tol=1e-6)


def test_a_task_enqueued_before_the_exporter_started_gets_its_wait_from_the_journal(huey, journal):
    journal.append([NewEvent("enqueued", "early", "t.add", ts=5000.0)])
    metrics = JournalMetrics(Inspector(huey, journal, "x"), journal)
    journal.append([NewEvent("executing", "early", "t.add", ts=5002.0)])
    got = scrape(metrics)
    waits = ("huey_desk_queue_wait_seconds_sum", (("queue", huey.name), ("task", "t.add")))
    assert math.isclose(got[waits], 2.0)


def test_redis_gone_mid_session_gives_up_0_one_sentence_and_back(tmp_path):
    """A private redis-server (the shared one must stay up), stopped and started again."""
    import shutil
    import subprocess
    import threading

    from huey import RedisHuey

    from desktop_app.core.backends import journal_for
    from tests import redis_server as rs

    exe = shutil.which("redis-server")
    if exe is None:
        rs._missing("redis-server is not installed (apt-get install redis-server)")
    sock, pidfile, log = tmp_path / "r.sock", tmp_path / "r.pid", tmp_path / "r.log"
    args = [exe, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"]
    args += ["--dir", str(tmp_path), "--logfile", str(log), "--daemonize", "yes"]
    args += ["--pidfile", str(pidfile)]
    server = rs.RedisServer(sock, pidfile)

    def start():
        subprocess.run(args, stdin=subprocess.DEVNULL, check=True, timeout=10)
        rs._wait_ready(server, log)

    start()
    huey = RedisHuey("flaky-redis", url=server.url)
    journal = journal_for(huey)
    said: list[str] = []
    stop = threading.Event()
    follower = None
    try:
        metrics = JournalMetrics(Inspector(huey, journal, "x"), journal)
        assert scrape(metrics)[("huey_desk_up", (("queue", "flaky-redis"),))] == 1
        follower = threading.Thread(target=metrics.follow, args=(stop, said.append, 0.02))
        follower.start()
        rs._stop(pidfile)
        got = scrape(metrics)  # served, not raised: the exporter stays up
        assert got[("huey_desk_up", (("queue", "flaky-redis"),))] == 0
        assert (
            "huey_desk_queue_depth",
            (("queue", "flaky-redis"), ("where", "pending")),
        ) not in got
        wait_until(lambda: said, what="the fault said once")
        assert "Redis" in said[0] and len(said) == 1
        start()
        wait_until(lambda: len(said) == 2, what="storage back")
        assert "again" in said[1]
        assert scrape(metrics)[("huey_desk_up", (("queue", "flaky-redis"),))] == 1
    finally:
        stop.set()
        if follower is not None:
            follower.join(timeout=10)
        journal.close()
        huey.storage.pool.disconnect()
        rs._stop(pidfile)
