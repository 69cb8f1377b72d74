"""The window at scale: 100,000 pending and 1,000,000 finished tasks.

A child process opens the real window (offscreen) on that data and measures: launch to
an interactive window (rows of both tables on screen), resident memory, a text, state
or task filter until its first rows are on screen, scrolling the tasks table to its
very end until the last rows are loaded; then it starts a consumer (2 workers) that
drains the pending tasks for ``--seconds`` (about 2,500 events a second here) while a
5 ms heartbeat timer on the GUI thread records the longest stall, and every completed
task's latency from its journal event to the tasks model holding it is recorded.

Baseline in the same run: one refresh of a naive dashboard, which reloads
``huey.pending()`` and the whole history on every refresh, against one refresh of ours
(opening a history window, the first queue block and the status).

``--backend redis``: the queue and the journal in a redis-server of the benchmark's own
(no persistence), filled in bulk (``scale_data``), watched by a window whose history is
a local copy of the shared journal.  A first launch copies it (``first_sync_s``, from
process start until the copy is up to date) and measures the filters before the search
index has covered the copy; ``--launches`` later launches give the launch to an
interactive window (median); the last one measures scrolling, the indexed filters and
the stream, drained by two consumers of one worker each on two hosts (``HUEY_DESK_HOST``
bench-host-a and bench-host-b).  The SQLite run's same figures are measured first, in
the same invocation, as the baseline (``baseline``, and ``*_vs_sqlite`` ratios).

``--rate EVENTS``: the consumers start their tasks at a fixed pace (``benchmarks.paced``)
so that the stream offers about that many events a second instead of as many as the
workers can drain: the goal's stream (2,000 a second) measured at its own size.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, RedisServer, percentile
from benchmarks.watchdog import Watchdog, add_option, print_summary

WARM_UP_S = 2.0
PENDING = 100_000
FINISHED = 1_000_000
REDIS_TARGET = "benchmarks.scale_data:redis_huey"
HOSTS = ("bench-host-a", "bench-host-b")
FILTERS = {
    "state": ("error", None, ""),
    "task": ("all", "tasks.demo.make_thumbnail", ""),
    "text": ("all", None, "user42@"),
    "text_rare": ("all", None, "qxzj"),
}
# what the Redis run's figures are compared on with the SQLite run's (ratio redis/sqlite)
COMPARED = (
    "startup_s",
    "scroll_end_ms",
    "filter_ms",
    "event_to_screen_p50_ms",
    "event_to_screen_p99_ms",
    "max_stall_ms",
)


def build(data: Path, pending: int, finished: int) -> None:
    """Make the queue and journal once; a kept ``--data`` folder is used again."""
    from benchmarks.scale_data import fill_journal, fill_queue
    from desktop_app.core.target import load_target

    marker = data / f"built-{pending}-{finished}"
    if marker.exists():
        return
    for name in ("queue.db", "queue.db-wal", "queue.db-shm", "journal.sqlite"):
        (data / name).unlink(missing_ok=True)
    os.environ["HUEY_DESK_DB"] = str(data / "queue.db")
    target = load_target("tasks:huey")
    fill_queue(target.huey, pending)
    target.huey.storage.close()
    fill_journal(data / "journal.sqlite", finished)
    marker.touch()


def build_redis(url: str, pending: int, finished: int) -> None:
    """The same data in Redis: the queue list and the journal (through its writer)."""
    from benchmarks.scale_data import demo_on_redis, fill_redis_queue, fill_shared_journal
    from desktop_app.core.backends import journal_for

    huey = demo_on_redis(url)
    huey.storage.conn.flushdb()
    fill_redis_queue(huey, pending)
    journal = journal_for(huey)
    fill_shared_journal(journal, finished, batch=2000)
    journal.close()
    huey.storage.pool.disconnect()


def naive_redis_history(journal) -> list[dict]:
    """Every task's hash read from Redis (pipelined), as a dashboard without a copy would."""
    ids = journal.client.zrange(journal.prefix + "tasks", 0, -1)
    rows = []
    for first in range(0, len(ids), 10_000):
        pipe = journal.client.pipeline(transaction=False)
        for task_id in ids[first : first + 10_000]:
            pipe.hgetall(journal.prefix + "task:" + task_id.decode())
        rows += pipe.execute()
    return rows


def refreshes_redis(data: Path, url: str, runs: int) -> dict:
    """The naive refresh (``pending()`` and every task hash) against ours (a history
    window on the local copy, the first queue block, the status from Redis)."""
    from benchmarks.scale_data import demo_on_redis
    from desktop_app.core.backends import journal_for
    from desktop_app.core.history import History
    from desktop_app.core.inspector import Inspector
    from desktop_app.core.journal import SqliteJournal

    huey = demo_on_redis(url)
    shared = journal_for(huey)
    local = SqliteJournal(data / "mirror.sqlite")
    inspector = Inspector(huey, shared)
    history = History(local)
    figures = time_refreshes(
        lambda: (huey.pending(), naive_redis_history(shared)), history, inspector, runs
    )
    local.close()
    shared.close()
    huey.storage.pool.disconnect()
    return figures


def time_refreshes(naive_refresh, history, inspector, runs: int) -> dict:
    """Medians of ``runs`` naive refreshes (``naive_refresh`` returns what it read: the
    queue and every task) and of ours (a history window, the first queue block, the
    status)."""
    from desktop_app.core.history import TaskQuery

    naive, ours = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        queued, rows = naive_refresh()
        naive.append((time.perf_counter() - t0) * 1000)
        assert len(queued) >= 1 and len(rows) >= 1
        del queued, rows
        t0 = time.perf_counter()
        history.open(TaskQuery(), 200)
        inspector.pending(0, 200)
        inspector.status()
        ours.append((time.perf_counter() - t0) * 1000)
    return {
        "baseline_refresh_ms": round(statistics.median(naive), 1),
        "ours_refresh_ms": round(statistics.median(ours), 1),
    }


def refreshes(data: Path, runs: int) -> dict:
    """One naive refresh against one of ours, medians of ``runs``."""
    from desktop_app.core.history import History
    from desktop_app.core.inspector import Inspector
    from desktop_app.core.journal import SqliteJournal
    from desktop_app.core.target import load_target

    os.environ["HUEY_DESK_DB"] = str(data / "queue.db")
    huey = load_target("tasks:huey").huey
    journal = SqliteJournal(data / "journal.sqlite")
    inspector = Inspector(huey, journal)
    history = History(journal)

    def naive_refresh() -> tuple[list, list]:
        queued = huey.pending()
        conn = sqlite3.connect(data / "journal.sqlite")
        cur = conn.execute("SELECT * FROM tasks ORDER BY rowid DESC")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur]
        conn.close()
        return queued, rows

    figures = time_refreshes(naive_refresh, history, inspector, runs)
    journal.close()
    return figures


def open_desk(data: Path, backend: str):
    """The real window on the run's data (no consumer of its own)."""
    from desktop_app.core.target import load_target
    from desktop_app.gui.app import Desk

    if backend == "redis":
        from desktop_app.core.backends import journal_for

        target = load_target(REDIS_TARGET)
        shared = journal_for(target.huey)
        journal = str(data / "mirror.sqlite")
        return Desk(target, journal, workers=2, start_consumer=False, shared=shared)
    os.environ["HUEY_DESK_DB"] = str(data / "queue.db")
    target = load_target("tasks:huey")
    return Desk(target, str(data / "journal.sqlite"), workers=2, start_consumer=False)


def consumers(data: Path, backend: str, rate: float = 0.0) -> list[subprocess.Popen]:
    """What drains the queue while the stream is measured: on SQLite one consumer of two
    workers, on Redis one consumer of one worker on each of two hosts.  ``rate``: the
    journal events a second they offer together (two per task; 0: as fast as they can)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "desktop_app", "consumer", "--no-periodic"]
    if rate:
        per_consumer = rate / 2 / (1 if backend == "sqlite" else len(HOSTS))
        env["HUEY_DESK_BENCH_PACE"] = str(per_consumer)
    if backend == "sqlite":
        target = ["--huey", "benchmarks.paced:huey"] if rate else []
        journal = str(data / "journal.sqlite")
        runs = [([*command, *target, "--workers", "2", "--journal", journal], env)]
    else:
        runs = []
        for host in HOSTS:
            (data / host).mkdir(exist_ok=True)
            on_host = dict(env, HUEY_DESK_HOST=host, HUEY_DESK_DATA=str(data / host))
            runs.append(([*command, "--huey", REDIS_TARGET, "--workers", "1"], on_host))
    return [
        subprocess.Popen(c, env=e, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for c, e in runs
    ]


def child(
    data: Path,
    spawned: float,
    seconds: float,
    repeats: int,
    backend: str,
    phase: str,
    watchdog_ms: float | None = None,
    watchdog_out: Path | None = None,
    watchdog_native: int = 0,
    rate: float = 0.0,
):
    """Runs in its own process: the window, measured.  ``phase``: "first" (the first
    launch on Redis: the copy and the filters before the search index), "launch" (only
    the launch to an interactive window), "full" (everything else).  ``watchdog_ms``:
    record the GUI thread's stack during the stream's gaps longer than that."""
    import psutil
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from desktop_app.gui.collector import GuiCollector
    from desktop_app.gui.lock_turns import short_turns

    app = QApplication.instance() or QApplication([])
    collector = GuiCollector()  # as the window's main() does
    short_turns()
    desk = open_desk(data, backend)
    window = desk.window
    tasks, queue, view = window.tasks_model, window.queue_model, window.results_view
    figures: dict = {}

    def wait(condition, timeout: float = 60.0) -> float:
        """Run the event loop until ``condition()``; the seconds it took."""
        start = time.perf_counter()
        while not condition():
            if time.perf_counter() - start > timeout:
                raise TimeoutError("the window did not get there in time")
            app.processEvents()
            time.sleep(0.0005)  # a benchmark's event loop yielding the core, not a test
        app.processEvents()
        return time.perf_counter() - start

    def run_for(seconds: float) -> float:
        """Run the event loop as the window's own does (asleep until something comes)
        for ``seconds``; the seconds it took.  The stream is measured this way: a loop
        that looks every half millisecond would take the interpreter lock from the
        monitor's thread 2,000 times a second, which the window does not."""
        start = time.perf_counter()
        loop = QEventLoop()
        QTimer.singleShot(round(seconds * 1000), loop.quit)
        loop.exec()
        return time.perf_counter() - start

    stall = {"max": 0.0, "phase": 0.0}
    watchdog = Watchdog(watchdog_ms, native_dumps=watchdog_native) if watchdog_ms else None
    clock = QElapsedTimer()
    heartbeat = QTimer()
    heartbeat.setObjectName("stall-heartbeat")

    def beat() -> None:
        if clock.isValid():
            gap = clock.nsecsElapsed() / 1e6 - 5.0
            stall["phase"] = max(stall["phase"], gap)
        clock.restart()
        if watchdog is not None:
            watchdog.beat()

    heartbeat.timeout.connect(beat)
    synced: list[float] = []
    desk.monitor.syncing.connect(lambda p: synced.append(time.time()) if p["done"] else None)

    desk.start()
    collector.settle()
    if backend == "redis":
        wait(lambda: bool(synced), timeout=1800)
        figures["first_sync_s" if phase == "first" else "catch_up_s"] = round(
            synced[0] - spawned, 2
        )
    wait(
        lambda: (
            tasks.rowCount() >= FINISHED_SEEN[0]
            and tasks.row(0) is not None
            and queue.rowCount() > 0
            and queue.row(0) is not None
        ),
        timeout=120,
    )
    figures["startup_s"] = round(time.time() - spawned, 2)
    figures["tasks_rows"] = tasks.rowCount()
    figures["queue_rows"] = queue.rowCount()
    if phase == "launch":
        desk.shutdown()
        return figures
    heartbeat.start(5)

    def scroll_end() -> float:
        window.apply_filter()  # a fresh window: nothing cached
        wait(lambda: tasks.row(0) is not None and tasks.counted)
        view.scrollToTop()
        start = time.perf_counter()
        view.scrollToBottom()
        last = tasks.rowCount() - 1
        wait(lambda: tasks.row(last) is not None)
        view.viewport().repaint()
        return (time.perf_counter() - start) * 1000

    if phase == "full":
        stall["phase"] = 0.0
        scrolls = [scroll_end() for _ in range(repeats)]
        figures["scroll_end_ms"] = round(statistics.median(scrolls), 1)
        figures["scroll_stall_ms"] = round(stall["phase"], 1)

    def apply(state: str, task: str | None, text: str) -> tuple[float, float]:
        """One filter: ms to its first rows on screen (a text filter's first look may
        cover only the newest tasks, and says so), and ms to its whole answer."""
        window.state_combo.setCurrentText(state)
        window.task_combo.setCurrentIndex(max(window.task_combo.findData(task), 0))
        window.text_filter.setText(text)
        start = time.perf_counter()
        window.apply_filter()
        generation = tasks.generation
        wait(
            lambda: (
                tasks.shown_generation == generation
                and (tasks.rowCount() == 0 or tasks.row(0) is not None)
            )
        )
        view.viewport().repaint()
        first = (time.perf_counter() - start) * 1000
        wait(lambda: tasks.looked is None and (tasks.rowCount() == 0 or tasks.row(0) is not None))
        view.viewport().repaint()
        return first, (time.perf_counter() - start) * 1000

    def filter_figures(prefix: str) -> None:
        stall["phase"] = 0.0
        for name, how in FILTERS.items():
            times = [apply(*how) for _ in range(repeats)]
            figures[f"{prefix}{name}_ms"] = round(statistics.median(t[0] for t in times), 1)
            figures[f"{prefix}{name}_whole_ms"] = round(statistics.median(t[1] for t in times), 1)
            figures[f"{prefix}{name}_runs_ms"] = [round(t[0], 1) for t in times]
        apply("all", None, "")
        figures[f"{prefix}stall_ms"] = round(stall["phase"], 1)

    def index_built() -> float:
        """Wait until the search index (built in the background from the first start,
        newest first) has covered the history; the seconds it took from now."""
        search = desk.monitor.journal_path + ".search"
        index = sqlite3.connect(f"file:{search}?mode=ro", uri=True)

        def covered() -> bool:
            meta = dict(index.execute("SELECT key, value FROM meta").fetchall())
            return meta.get("low", 2) <= 1 and meta.get("high", 0) >= tasks.anchor

        try:
            return wait(covered, timeout=600)
        finally:
            index.close()

    if phase != "full" or backend == "sqlite":
        # before the search index has covered the history (it is built in the background
        # from the first start): text is scanned
        filter_figures("filter_unindexed_")
        figures["index_built_s"] = round(index_built(), 1)
    if phase == "first":
        figures["rss_mb"] = round(psutil.Process().memory_info().rss / 1e6, 1)
        heartbeat.stop()
        desk.shutdown()
        return figures
    filter_figures("filter_")
    figures["filter_ms"] = max(figures[f"filter_{n}_ms"] for n in FILTERS)
    figures["rss_mb"] = round(psutil.Process().memory_info().rss / 1e6, 1)

    # streaming: consumers drain the pending tasks; latency to the model, stalls
    class Recorder(QObject):
        """Runs on the GUI thread after the model has applied the same rows."""

        def __init__(self) -> None:
            super().__init__()
            self.latencies: list[float] = []
            self.seen: set[str] = set()
            self.hosts: set[str] = set()

        @Slot(object)
        def on_rows(self, rows: list[dict]) -> None:
            now = time.time()
            for row in rows:
                if row.get("state") == "complete" and row["task_id"] not in self.seen:
                    self.seen.add(row["task_id"])
                    self.latencies.append((now - row["state_ts"]) * 1000)
                    self.hosts.add((row.get("consumer") or "").split(":")[0])

    recorder = Recorder()
    desk.monitor.tasks_changed.connect(recorder.on_rows)
    procs = consumers(data, backend, rate)
    try:
        wait(lambda: len(recorder.latencies) > 0, timeout=60)
        # The consumers' first seconds (their journal writers starting while a backlog
        # of 100,000 tasks begins) are not the steady stream measured here.
        run_for(WARM_UP_S)
        figures["warm_up_max_ms"] = round(max(recorder.latencies), 1)
        recorder.latencies.clear()
        recorder.hosts.clear()
        stall["phase"] = 0.0
        events_before = desk.monitor._cursor
        if watchdog is not None:
            watchdog.start()
        elapsed = run_for(seconds)
        if watchdog is not None:
            watchdog.stop()
            figures["watchdog"] = watchdog.summary()
            if watchdog_out is not None:
                watchdog.write(watchdog_out)
        figures["stream_events_per_s"] = round((desk.monitor._cursor - events_before) / elapsed)
        figures["max_stall_ms"] = round(stall["phase"], 1)
        # what a full collection by the window's collector (every two minutes or so,
        # on the GUI thread) would cost now, after the stream: not in the stall figure
        figures["gc_tracked_objects"] = len(gc.get_objects())
        figures["gc_frozen_objects"] = gc.get_freeze_count()
        t_gc = time.perf_counter()
        gc.collect()
        figures["gc_full_collection_ms"] = round((time.perf_counter() - t_gc) * 1000, 1)
    finally:
        for proc in procs:
            proc.send_signal(2)
        for proc in procs:
            proc.wait(30)
    lat = sorted(recorder.latencies)
    if not lat:
        raise SystemExit(
            f"The consumers emptied the queue before the {seconds} s of streaming began; "
            "give --pending more tasks."
        )
    figures["stream_tasks"] = len(lat)
    figures["stream_hosts"] = len(recorder.hosts)
    figures["event_to_screen_p50_ms"] = round(percentile(lat, 50), 1)
    figures["event_to_screen_p99_ms"] = round(percentile(lat, 99), 1)
    figures["event_to_screen_max_ms"] = round(lat[-1], 1)
    figures["rss_mb"] = max(figures["rss_mb"], round(psutil.Process().memory_info().rss / 1e6, 1))
    heartbeat.stop()
    desk.shutdown()
    return figures


FINISHED_SEEN = [1]  # rows the tasks table must show before the window counts as ready


def spawn(run: Path, ns: argparse.Namespace, backend: str, phase: str, env: dict) -> dict:
    """One launch of the window in a child process; its figures."""
    spawned = time.time()
    args = ["--child", str(run), "--spawned", str(spawned), "--seconds", str(ns.seconds)]
    args += ["--repeats", str(ns.repeats), "--finished", str(ns.finished)]
    args += ["--backend", backend, "--phase", phase, "--rate", str(ns.rate)]
    if ns.watchdog and phase == "full":
        args += ["--watchdog", str(ns.watchdog)]
        if ns.watchdog_out:
            out = ns.watchdog_out.resolve()
            if backend == "redis":  # beside the SQLite run's file, not over it
                out = out.with_name(f"{out.stem}.redis{out.suffix}")
            args += ["--watchdog-out", str(out)]
        args += ["--watchdog-native", str(ns.watchdog_native)]
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.monitor", *args],
        cwd=ROOT,
        env=dict(env, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen"),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        print(out.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"the {backend} window ({phase} launch) failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def launches(run: Path, ns: argparse.Namespace, backend: str, env: dict, count: int) -> dict:
    """``count - 1`` launches for the launch time only, then one that measures the rest;
    the launch time is their median."""
    starts = []
    for _ in range(count - 1):
        starts.append(spawn(run, ns, backend, "launch", env)["startup_s"])
        if backend == "sqlite":  # the next launch finds the search index as the first did
            for index in run.glob("journal.sqlite.search*"):
                index.unlink()
    figures = spawn(run, ns, backend, "full", env)
    starts.append(figures["startup_s"])
    figures["startup_s"] = round(statistics.median(starts), 2)
    figures["startup_runs_s"] = starts
    return figures


def run_sqlite(ns: argparse.Namespace, tmp: Path, count: int) -> dict:
    """Today's benchmark: the queue and the journal in SQLite files."""
    data = ns.data or tmp
    data.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    build(data, ns.pending, ns.finished)
    built_s = time.perf_counter() - t0
    # the child measures on a copy: the streaming phase changes the data
    run = tmp / "run"
    run.mkdir(exist_ok=True)
    for name in ("queue.db", "journal.sqlite"):
        subprocess.run(["cp", str(data / name), str(run / name)], check=True)
    base = refreshes(run, ns.repeats)
    figures = launches(run, ns, "sqlite", dict(os.environ), count)
    figures |= base
    figures["refresh_ratio"] = round(base["baseline_refresh_ms"] / base["ours_refresh_ms"], 1)
    figures["built_s"] = round(built_s, 1)
    figures["backend"] = "sqlite"
    return figures


def run_redis(ns: argparse.Namespace, tmp: Path, count: int) -> dict:
    """The queue and the journal in a redis-server of the run's own; the window's
    history in its local copy."""
    run = tmp / "redis-run"
    run.mkdir()
    server = RedisServer(tmp)
    try:
        env = dict(
            os.environ,
            HUEY_DESK_BENCH_REDIS=server.url,
            HUEY_DESK_DB=str(run / "unused.db"),
            HUEY_DESK_DATA=str(run / "data"),
        )
        os.environ.update(env)
        t0 = time.perf_counter()
        build_redis(server.url, ns.pending, ns.finished)
        built_s = time.perf_counter() - t0
        first = spawn(run, ns, "redis", "first", env)
        base = refreshes_redis(run, server.url, max(1, ns.repeats // 2))
        figures = launches(run, ns, "redis", env, count)
        memory = subprocess.run(
            ["redis-cli", "-s", str(server.socket), "info", "memory"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    finally:
        server.stop()
    figures["first_sync_s"] = first["first_sync_s"]
    figures["first_launch_rss_mb"] = first["rss_mb"]
    figures["index_built_s"] = first["index_built_s"]
    for key, value in first.items():
        if key.startswith("filter_unindexed_"):
            figures[key] = value
    figures |= base
    figures["refresh_ratio"] = round(base["baseline_refresh_ms"] / base["ours_refresh_ms"], 1)
    figures["built_s"] = round(built_s, 1)
    for line in memory.splitlines():
        if line.startswith("used_memory:"):
            figures["redis_memory_mb"] = round(int(line.split(":")[1]) / 1e6)
    figures["backend"] = "redis"
    return figures


def print_figures(f: dict, ns: argparse.Namespace) -> None:
    print(
        f"{f['backend']}: {ns.pending:,} pending, {ns.finished:,} finished (data built in "
        f"{f['built_s']:.0f} s); medians of {ns.repeats}, launch median of "
        f"{len(f['startup_runs_s'])}"
    )
    if f["backend"] == "redis":
        print(
            f"  first sync of the local copy  {f['first_sync_s']} s from launch "
            f"(Redis holds {f.get('redis_memory_mb', '?')} MB)"
        )
    print(f"  launch to interactive window  {f['startup_s']} s   (goal <= 2 s)")
    print(f"  resident memory               {f['rss_mb']} MB   (goal <= 300 MB)")
    print(f"  scroll tasks to the end       {f['scroll_end_ms']} ms   (goal <= 200 ms)")
    first = "first launch, after the copy" if f["backend"] == "redis" else "before the index"
    for prefix, when in (("filter_unindexed_", first), ("filter_", "indexed")):
        print(
            f"  filter ({when}), first rows on screen: state {f[prefix + 'state_ms']} ms, "
            f"task {f[prefix + 'task_ms']} ms, text {f[prefix + 'text_ms']} ms, rare text "
            f"{f[prefix + 'text_rare_ms']} ms   (goal <= 200 ms); whole answer: text "
            f"{f[prefix + 'text_whole_ms']} ms, rare text {f[prefix + 'text_rare_whole_ms']} ms"
        )
    print(f"  search index over the history built in the background in {f['index_built_s']} s")
    print(
        f"  streaming {f['stream_events_per_s']} events/s for {ns.seconds:g} s from "
        f"{f['stream_hosts']} host(s): event to screen p50 {f['event_to_screen_p50_ms']} ms, "
        f"p99 {f['event_to_screen_p99_ms']} ms, max {f['event_to_screen_max_ms']} ms; "
        f"longest GUI stall {f['max_stall_ms']} ms"
    )
    print(
        f"  a full garbage collection after the stream: {f['gc_full_collection_ms']} ms "
        f"({f['gc_tracked_objects']:,} objects tracked, {f['gc_frozen_objects']:,} frozen)"
    )
    print(
        f"  one refresh: naive (pending() + whole history) {f['baseline_refresh_ms']} ms, "
        f"ours {f['ours_refresh_ms']} ms ({f['refresh_ratio']}x)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--backend", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=30.0, help="streaming phase")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    parser.add_argument(
        "--launches", type=int, help="launches of the window (median; 1 on SQLite, 3 on Redis)"
    )
    parser.add_argument("--pending", type=int, default=PENDING)
    parser.add_argument("--finished", type=int, default=FINISHED)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        metavar="EVENTS",
        help="the consumers offer about EVENTS journal events a second, two per task "
        "(default: as fast as they drain)",
    )
    parser.add_argument("--data", type=Path, help="keep the SQLite run's data here (reused)")
    add_option(
        parser,
        "while streaming, record the GUI thread's stack whenever it has not beaten "
        "for more than MS (30 if not given) and print what the gaps were made of",
    )
    parser.add_argument(
        "--watchdog-out", type=Path, metavar="PATH", help="with --watchdog: every gap, as JSON"
    )
    parser.add_argument(
        "--watchdog-native",
        type=int,
        default=0,
        metavar="N",
        help="with --watchdog: a py-spy --native dump of the GUI thread in the first N gaps "
        "twice MS long (each stops the window for a while: the stall figures suffer)",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--phase", default="full", help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.child:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        FINISHED_SEEN[0] = ns.finished
        figures = child(
            ns.child,
            ns.spawned,
            ns.seconds,
            ns.repeats,
            ns.backend,
            ns.phase,
            ns.watchdog,
            ns.watchdog_out,
            ns.watchdog_native,
            ns.rate,
        )
        print(json.dumps(figures))
        return 0
    count = ns.launches or (3 if ns.backend == "redis" else 1)
    with tempfile.TemporaryDirectory(prefix="huey-desk-monitor-") as tmp:
        baseline = run_sqlite(ns, Path(tmp), count)
        figures = run_redis(ns, Path(tmp), count) if ns.backend == "redis" else baseline
    for f in (figures, baseline):
        f["pending"], f["finished"] = ns.pending, ns.finished
    if figures is not baseline:
        for key in COMPARED:
            figures[f"{key}_vs_sqlite"] = round(figures[key] / baseline[key], 2)
        figures["baseline"] = baseline
    if ns.json:
        print(json.dumps(figures))
        return 0
    if figures is not baseline:
        print_figures(baseline, ns)
    print_figures(figures, ns)
    for f in (baseline, figures) if figures is not baseline else (figures,):
        if "watchdog" in f:
            print_summary(f["watchdog"])
    if figures is not baseline:
        print(
            "  redis / sqlite: " + ", ".join(f"{k} {figures[k + '_vs_sqlite']}" for k in COMPARED)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
