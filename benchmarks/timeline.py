"""The worker timeline at scale: 1,000,000 finished tasks spread over the last day.

In one process (offscreen Qt), on a journal filled in bulk (``scale_data``):

- open: a new Timeline tab, shown on the last 10 minutes, until its first read is drawn
  and painted (``open_ms``, goal <= 500 ms);
- pan: the view at one hour wide, moved across the whole day a quarter width at a time
  (each step waits until the read it causes is drawn), while a 5 ms heartbeat timer on
  the GUI thread records the longest gap (``max_stall_ms``, goal <= 50 ms);
- the read alone (``read_ms``: one hour, on the thread the benchmark runs in).

Baseline in the same run: the naive read of every run in the journal (what a view that
loads all history and lets the plot clip would pay before drawing anything),
``baseline_read_all_ms``, and the ratio to ours.  Medians over ``--repeats``.

``--backend redis``: the tasks go into a redis-server of the benchmark's own through
the Redis journal, are copied into a local SQLite copy (``mirror``), and the timeline
reads the copy with hosts and workers from Redis, as the window does; use a scaled
``--finished`` (copying a million tasks takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RedisServer

FINISHED = 1_000_000
DAY_S = 86_400.0
STEP = 0.25  # of the view's width, per pan step


def build_sqlite(folder: Path, finished: int) -> Path:
    from benchmarks.scale_data import fill_journal

    # made again on every run: the day it spans ends now, where the tab opens
    path = folder / f"timeline-{finished}.sqlite"
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    fill_journal(path, finished, span_s=DAY_S)
    return path


def build_redis(folder: Path, url: str, finished: int):
    """The tasks through the Redis journal, copied into a local file; (path, journal)."""
    from benchmarks.scale_data import finished_tasks, life
    from desktop_app.core.backends.redis.journal import RedisJournal
    from desktop_app.core.journal import SqliteJournal
    from desktop_app.core.mirror import JournalMirror

    shared = RedisJournal(url=url, name="bench-timeline")
    made = finished_tasks(finished, DAY_S)
    for first in range(0, finished, 2000):
        count = min(finished, first + 2000) - first
        shared.append([ev for _ in range(count) for ev in life(next(made))])
    shared.register_consumer("bench-consumer", host="bench-host", pid=4242, workers=2)
    path = folder / "timeline-copy.sqlite"
    local = SqliteJournal(path)
    JournalMirror(shared, local).sync_all()
    local.close()
    return path, shared


def naive_read_all(path: Path) -> int:
    """Every run in the journal, as Run objects (the baseline)."""
    from desktop_app.core.timeline import Run

    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT task_id, task_name, worker, consumer, started_at, finished_at, state "
            "FROM tasks WHERE started_at IS NOT NULL"
        ).fetchall()
        runs = [Run(r[0], r[1], r[2], r[3], None, r[4], r[5], r[6]) for r in rows]
        return len(runs)
    finally:
        conn.close()


def measure(path: Path, live, repeats: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QThreadPool, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.timeline import TimelineReader
    from desktop_app.gui.timeline_panel import TimelinePanel

    app = QApplication.instance() or QApplication([])
    reader = TimelineReader(str(path), live)

    def wait_drawn(panel, timeout_s: float = 30.0) -> None:
        loop = QEventLoop()
        done = []
        panel.page_applied.connect(lambda _p: (done.append(1), loop.quit()))
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        while not done:
            loop.exec()
        panel.page_applied.disconnect()

    figures: dict = {}
    opens, reads, naive = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        panel = TimelinePanel()
        panel.resize(1000, 400)
        panel.show()
        panel.set_reader(reader.read)
        wait_drawn(panel)
        panel.plot.viewport().repaint()  # painted, not only built
        opens.append((time.perf_counter() - start) * 1000)
        bars = sum(panel.bar_items().values())
        panel.close()
        panel.deleteLater()
        app.processEvents()
        now = time.time()
        start = time.perf_counter()
        page = reader.read(now - 3600, now)
        reads.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        total = naive_read_all(path)
        naive.append((time.perf_counter() - start) * 1000)
    figures.update(
        open_ms=round(statistics.median(opens), 1),
        open_runs_ms=[round(v, 1) for v in opens],
        bars_drawn=bars,
        read_ms=round(statistics.median(reads), 1),
        read_runs=len(page.runs),
        baseline_read_all_ms=round(statistics.median(naive), 1),
        baseline_runs=total,
    )
    figures["open_vs_baseline"] = round(figures["baseline_read_all_ms"] / figures["open_ms"], 1)

    stalls, pans = [], []
    for _ in range(repeats):
        panel = TimelinePanel(reader.read)
        panel.resize(1000, 400)
        panel.show()
        wait_drawn(panel)
        panel.show_last(3600)
        panel.follow = False
        panel.timer.stop()  # the view moves only as the benchmark pans it
        now = time.time()
        panel.plot.setXRange(now - DAY_S, now - DAY_S + 3600, padding=0)
        if panel._busy:
            wait_drawn(panel)
        clock = QElapsedTimer()
        gaps = [0.0]
        beat = QTimer()
        beat.setInterval(5)

        def on_beat(gaps=gaps, clock=clock) -> None:
            gaps.append(clock.nsecsElapsed() / 1e6)
            clock.restart()

        beat.timeout.connect(on_beat)
        clock.start()
        beat.start()
        start = time.perf_counter()
        steps = int((DAY_S - 3600) / (3600 * STEP))
        for _step in range(steps):
            panel.pan(STEP)
            app.processEvents()
            if panel._busy:
                wait_drawn(panel)
            app.processEvents()
        pans.append(time.perf_counter() - start)
        beat.stop()
        stalls.append(max(gaps[2:], default=0.0) - 5.0)
        panel.close()
        panel.deleteLater()
        app.processEvents()
    QThreadPool.globalInstance().waitForDone()  # no read left running at exit
    figures.update(
        max_stall_ms=round(statistics.median(stalls), 1),
        max_stall_runs_ms=[round(v, 1) for v in stalls],
        pan_day_s=round(statistics.median(pans), 2),
        pan_steps=steps,
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--backend", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--finished", type=int, default=FINISHED)
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--data", type=Path, help="make the SQLite journal here (kept)")
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="huey-desk-timeline-") as tmp:
        folder = ns.data or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        server = None
        if ns.backend == "redis":
            server = RedisServer(Path(tmp))
            path, live = build_redis(Path(tmp), server.url, ns.finished)
        else:
            path, live = build_sqlite(folder, ns.finished), None
        built = time.perf_counter() - start
        try:
            figures = measure(path, live, ns.repeats)
        finally:
            if live is not None:
                live.close()
            if server is not None:
                server.stop()
    figures.update(backend=ns.backend, finished=ns.finished, built_s=round(built, 1))
    if ns.json:
        print(json.dumps(figures))
        return 0
    print(
        f"{ns.backend}: {ns.finished:,} finished tasks over a day (built in {built:.0f} s); "
        f"medians of {ns.repeats}"
    )
    print(
        f"  open the tab until bars are drawn  {figures['open_ms']} ms "
        f"({figures['bars_drawn']:,} bars)   (goal <= 500 ms)"
    )
    print(
        f"  longest GUI stall panning a day    {figures['max_stall_ms']} ms "
        f"({figures['pan_steps']} steps in {figures['pan_day_s']} s)   (goal <= 50 ms)"
    )
    print(
        f"  one hour's read                    {figures['read_ms']} ms "
        f"({figures['read_runs']:,} runs)"
    )
    print(
        f"  baseline: read every run           {figures['baseline_read_all_ms']} ms "
        f"({figures['baseline_runs']:,} runs; {figures['open_vs_baseline']}x our open)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
