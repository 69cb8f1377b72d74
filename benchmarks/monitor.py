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
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, percentile

WARM_UP_S = 2.0
PENDING = 100_000
FINISHED = 1_000_000


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


def refreshes(data: Path, runs: int) -> dict:
    """One naive refresh against one of ours, medians of ``runs``."""
    from desktop_app.core.history import History, TaskQuery
    from desktop_app.core.inspector import Inspector
    from desktop_app.core.journal import SqliteJournal
    from desktop_app.core.target import load_target

    os.environ["HUEY_DESK_DB"] = str(data / "queue.db")
    huey = load_target("tasks:huey").huey
    journal = SqliteJournal(data / "journal.sqlite")
    inspector = Inspector(huey, journal)
    history = History(journal)
    naive, ours = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        queued = huey.pending()
        conn = sqlite3.connect(data / "journal.sqlite")
        cur = conn.execute("SELECT * FROM tasks ORDER BY rowid DESC")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur]
        conn.close()
        naive.append((time.perf_counter() - t0) * 1000)
        assert len(queued) >= 1 and len(rows) >= 1
        del queued, rows
        t0 = time.perf_counter()
        history.open(TaskQuery(), 200)
        inspector.pending(0, 200)
        inspector.status()
        ours.append((time.perf_counter() - t0) * 1000)
    journal.close()
    return {
        "baseline_refresh_ms": round(statistics.median(naive), 1),
        "ours_refresh_ms": round(statistics.median(ours), 1),
    }


def child(data: Path, spawned: float, seconds: float, repeats: int) -> dict:
    """Runs in its own process: the window, measured."""
    import psutil
    from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    os.environ["HUEY_DESK_DB"] = str(data / "queue.db")
    from desktop_app.core.target import load_target
    from desktop_app.gui.app import Desk

    app = QApplication.instance() or QApplication([])
    desk = Desk(
        load_target("tasks:huey"),
        str(data / "journal.sqlite"),
        workers=2,
        start_consumer=False,
    )
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

    stall = {"max": 0.0, "phase": 0.0}
    clock = QElapsedTimer()
    heartbeat = QTimer()
    heartbeat.setObjectName("stall-heartbeat")

    def beat() -> None:
        if clock.isValid():
            gap = clock.nsecsElapsed() / 1e6 - 5.0
            stall["phase"] = max(stall["phase"], gap)
        clock.restart()

    heartbeat.timeout.connect(beat)

    desk.start()
    wait(
        lambda: (
            tasks.rowCount() >= FINISHED_SEEN[0]
            and tasks.row(0) is not None
            and queue.rowCount() > 0
            and queue.row(0) is not None
        )
    )
    figures["startup_s"] = round(time.time() - spawned, 2)
    figures["tasks_rows"] = tasks.rowCount()
    figures["queue_rows"] = queue.rowCount()
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

    stall["phase"] = 0.0
    scrolls = [scroll_end() for _ in range(repeats)]
    figures["scroll_end_ms"] = round(statistics.median(scrolls), 1)
    figures["scroll_stall_ms"] = round(stall["phase"], 1)

    filters = {
        "state": ("error", None, ""),
        "task": ("all", "tasks.demo.make_thumbnail", ""),
        "text": ("all", None, "user42@"),
        "text_rare": ("all", None, "qxzj"),
    }

    def apply(state: str, task: str | None, text: str) -> float:
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
        return (time.perf_counter() - start) * 1000

    def filter_figures(prefix: str) -> None:
        stall["phase"] = 0.0
        for name, how in filters.items():
            times = [apply(*how) for _ in range(repeats)]
            figures[f"{prefix}{name}_ms"] = round(statistics.median(times), 1)
            figures[f"{prefix}{name}_runs_ms"] = [round(t, 1) for t in times]
        apply("all", None, "")
        figures[f"{prefix}stall_ms"] = round(stall["phase"], 1)

    # before the search index has covered the history (it is built in the background
    # from the first start): text is scanned
    filter_figures("filter_unindexed_")
    index = sqlite3.connect(f"file:{data / 'journal.sqlite.search'}?mode=ro", uri=True)
    t0 = time.perf_counter()
    wait(
        lambda: (
            (index.execute("SELECT value FROM meta WHERE key = 'upto'").fetchone() or [0])[0]
            >= tasks.anchor
        ),
        timeout=600,
    )
    index.close()
    figures["index_built_s"] = round(time.perf_counter() - t0, 1)
    filter_figures("filter_")
    figures["filter_ms"] = max(figures[f"filter_{n}_ms"] for n in filters)
    figures["rss_mb"] = round(psutil.Process().memory_info().rss / 1e6, 1)

    # streaming: a consumer drains the pending tasks; latency to the model, stalls
    class Recorder(QObject):
        """Runs on the GUI thread after the model has applied the same rows."""

        def __init__(self) -> None:
            super().__init__()
            self.latencies: list[float] = []
            self.seen: set[str] = set()

        @Slot(object)
        def on_rows(self, rows: list[dict]) -> None:
            now = time.time()
            for row in rows:
                if row.get("state") == "complete" and row["task_id"] not in self.seen:
                    self.seen.add(row["task_id"])
                    self.latencies.append((now - row["state_ts"]) * 1000)

    recorder = Recorder()
    desk.monitor.tasks_changed.connect(recorder.on_rows)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    consumer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "desktop_app",
            "consumer",
            "--workers",
            "2",
            "--journal",
            str(data / "journal.sqlite"),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait(lambda: len(recorder.latencies) > 0, timeout=60)
        # The consumer's first second (its journal writer starting while a backlog of
        # 100,000 tasks begins) is not the steady stream measured here.
        t0 = time.perf_counter()
        wait(lambda: time.perf_counter() - t0 >= WARM_UP_S, timeout=WARM_UP_S + 10)
        figures["warm_up_max_ms"] = round(max(recorder.latencies), 1)
        recorder.latencies.clear()
        stall["phase"] = 0.0
        events_before = desk.monitor._cursor
        t0 = time.perf_counter()
        wait(lambda: time.perf_counter() - t0 >= seconds, timeout=seconds + 10)
        elapsed = time.perf_counter() - t0
        figures["stream_events_per_s"] = round((desk.monitor._cursor - events_before) / elapsed)
        figures["max_stall_ms"] = round(stall["phase"], 1)
    finally:
        consumer.send_signal(2)
        consumer.wait(30)
    lat = sorted(recorder.latencies)
    figures["stream_tasks"] = len(lat)
    figures["event_to_screen_p50_ms"] = round(percentile(lat, 50), 1)
    figures["event_to_screen_p99_ms"] = round(percentile(lat, 99), 1)
    figures["event_to_screen_max_ms"] = round(lat[-1], 1)
    figures["rss_mb"] = max(figures["rss_mb"], round(psutil.Process().memory_info().rss / 1e6, 1))
    heartbeat.stop()
    desk.shutdown()
    return figures


FINISHED_SEEN = [1]  # rows the tasks table must show before the window counts as ready


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=30.0, help="streaming phase")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--pending", type=int, default=PENDING)
    parser.add_argument("--finished", type=int, default=FINISHED)
    parser.add_argument("--data", type=Path, help="keep the built data here (reused)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.child:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        FINISHED_SEEN[0] = ns.finished
        print(json.dumps(child(ns.child, ns.spawned, ns.seconds, ns.repeats)))
        return 0
    with tempfile.TemporaryDirectory(prefix="huey-desk-monitor-") as tmp:
        data = ns.data or Path(tmp)
        data.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        build(data, ns.pending, ns.finished)
        built_s = time.perf_counter() - t0
        # the child measures on a copy: the streaming phase changes the data
        run = Path(tmp) / "run"
        run.mkdir(exist_ok=True)
        for name in ("queue.db", "journal.sqlite"):
            subprocess.run(["cp", str(data / name), str(run / name)], check=True)
        base = refreshes(run, ns.repeats)
        spawned = time.time()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.monitor",
                "--child",
                str(run),
                "--spawned",
                str(spawned),
                "--seconds",
                str(ns.seconds),
                "--repeats",
                str(ns.repeats),
                "--finished",
                str(ns.finished),
            ],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen"),
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            return 1
        figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures |= base
    figures["refresh_ratio"] = round(base["baseline_refresh_ms"] / base["ours_refresh_ms"], 1)
    figures["pending"], figures["finished"] = ns.pending, ns.finished
    if ns.json:
        print(json.dumps(figures))
        return 0
    f = figures
    print(
        f"{ns.pending:,} pending, {ns.finished:,} finished (data built in {built_s:.0f} s); "
        f"medians of {ns.repeats}"
    )
    print(f"  launch to interactive window  {f['startup_s']} s   (goal <= 2 s)")
    print(f"  resident memory               {f['rss_mb']} MB   (goal <= 300 MB)")
    print(f"  scroll tasks to the end       {f['scroll_end_ms']} ms   (goal <= 200 ms)")
    for prefix, when in (("filter_unindexed_", "before the index"), ("filter_", "indexed")):
        print(
            f"  filter ({when}), first rows on screen: state {f[prefix + 'state_ms']} ms, "
            f"task {f[prefix + 'task_ms']} ms, text {f[prefix + 'text_ms']} ms, rare text "
            f"{f[prefix + 'text_rare_ms']} ms   (goal <= 200 ms)"
        )
    print(f"  search index over the history built in the background in {f['index_built_s']} s")
    print(
        f"  streaming {f['stream_events_per_s']} events/s for {ns.seconds:g} s: event to "
        f"screen p50 {f['event_to_screen_p50_ms']} ms, p99 {f['event_to_screen_p99_ms']} ms, "
        f"max {f['event_to_screen_max_ms']} ms; longest GUI stall {f['max_stall_ms']} ms"
    )
    print(
        f"  one refresh: naive (pending() + whole history) {f['baseline_refresh_ms']} ms, "
        f"ours {f['ours_refresh_ms']} ms ({f['refresh_ratio']}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
