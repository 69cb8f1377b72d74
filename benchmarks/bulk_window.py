"""The window while it retries 10,000 failed tasks in bulk: GUI-thread stalls.

A real window (offscreen, no consumer) on a fresh SQLite queue whose journal holds N
failed tasks; "Retry all matching this filter…" on the failed tasks, confirmed, runs on
the thread pool.  A 10 ms timer on the GUI thread records the gaps between its ticks
while the bulk retry runs, and, as the baseline in the same run, for as long again with
the window idle.  Medians of the p99 and the longest gap over the repeats.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.common import median, percentile, report


def _gaps(app, seconds: float | None, until=None) -> tuple[list[float], float]:
    """Gaps between 10 ms ticks (ms) for ``seconds``, or until ``until()`` holds."""
    from PySide6.QtCore import QTimer

    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000)
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    started = time.perf_counter()
    while True:
        app.processEvents()
        elapsed = time.perf_counter() - started
        if (seconds is not None and elapsed >= seconds) or (until is not None and until()):
            break
        time.sleep(0.001)  # the loop's own step; the timer measures the GUI thread
    timer.stop()
    return gaps, elapsed


def _one(app, folder: Path, run: int, n: int) -> dict:
    from huey import SqliteHuey

    from desktop_app.core.journal import SqliteJournal
    from desktop_app.core.target import Target
    from desktop_app.gui.app import Desk
    from tests.helpers import failed_tasks, task_name

    huey = SqliteHuey("bench-bulk-window", filename=str(folder / f"q{run}.db"))

    @huey.task()
    def send_report(n: int = 0) -> None:
        """Never run here."""

    journal_path = folder / f"j{run}.sqlite"
    journal = SqliteJournal(journal_path)
    failed_tasks(journal, task_name(huey, "send_report"), n, time.time() - 60)
    journal.close()
    desk = Desk(Target("b:huey", "b", "huey", huey), str(journal_path), start_consumer=False)
    desk.window.confirm = lambda _question: True
    desk.start()
    try:
        window, panel = desk.window, desk.window.results_panel
        window.state_combo.setCurrentText("failed")
        _gaps(app, None, lambda: window.tasks_model.rowCount() == n)
        done: list = []
        panel.runner.finished.connect(done.append)
        action = next(a for a in panel.bulk_actions if a.objectName() == "retry-matching")
        action.trigger()
        busy, seconds = _gaps(app, None, lambda: bool(done))
        assert done[0].acted == n and huey.pending_count() == n, done[0].summary()
        idle, _ = _gaps(app, seconds)
        return {"busy": busy, "idle": idle, "seconds": seconds}
    finally:
        desk.shutdown()
        huey.storage.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    ns = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    runs = []
    with tempfile.TemporaryDirectory(prefix="huey-desk-bulk-window-") as tmp:
        for run in range(ns.repeats):
            runs.append(_one(app, Path(tmp), run, ns.tasks))
    fig = {
        "backend": "sqlite",
        "tasks": ns.tasks,
        "repeats": ns.repeats,
        "bulk_s": round(median([r["seconds"] for r in runs]), 3),
        "busy_p99_gap_ms": round(median([percentile(r["busy"], 99) for r in runs]), 1),
        "busy_max_gap_ms": round(median([max(r["busy"]) for r in runs]), 1),
        "idle_p99_gap_ms": round(median([percentile(r["idle"], 99) for r in runs]), 1),
        "idle_max_gap_ms": round(median([max(r["idle"]) for r in runs]), 1),
        "all_busy_max_gap_ms": [round(max(r["busy"]), 1) for r in runs],
    }
    fig["ratio_busy_to_idle_p99"] = round(fig["busy_p99_gap_ms"] / fig["idle_p99_gap_ms"], 2)
    report(
        fig,
        ns.json,
        [
            f"window during a bulk retry of {ns.tasks:,} failed tasks, median of "
            f"{ns.repeats} runs ({fig['bulk_s']} s each)",
            f"  10 ms timer gaps while retrying: p99 {fig['busy_p99_gap_ms']} ms, "
            f"longest {fig['busy_max_gap_ms']} ms",
            f"  the same window idle (baseline) : p99 {fig['idle_p99_gap_ms']} ms, "
            f"longest {fig['idle_max_gap_ms']} ms",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
