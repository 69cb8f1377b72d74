"""A burst of 10,000 submissions against the real window: GUI stalls and nothing lost.

The window (offscreen) runs on a temporary queue with its own consumer (2 workers).
Once its workers report, another process submits N no-op tasks as fast as it can
through the dispatcher (the path of ``huey-desk submit``: validated, enqueued, journalled).
A 5 ms heartbeat timer on the GUI thread records every gap between its ticks; a gap
longer than the interval is a stall.  The run ends when every submitted task is
accounted for: complete in the rows the window received, and complete in the journal.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEARTBEAT_MS = 5
FINAL = {"complete", "error", "interrupted", "revoked", "expired"}

PRODUCER = """
import sys, time
from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.journal import SqliteJournal
from desktop_app.core.target import load_target
n, journal_path, ids_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
target = load_target("tasks:huey")
journal = SqliteJournal(journal_path)
dispatcher = Dispatcher(target.huey, journal)
start = time.monotonic()
ids = [dispatcher.submit("noop") for _ in range(n)]
took = time.monotonic() - start
with open(ids_path, "w") as out:
    out.write("\\n".join(ids))
print(took, flush=True)
"""


class Sampler:
    """Samples the GUI thread's Python stack every millisecond while ``armed``; the
    samples taken during long gaps say where the GUI thread spent its time."""

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.samples: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="burst-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            frame = sys._current_frames().get(self.thread_id)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-6:]
            where = " < ".join(
                f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack)
            )
            self.samples.append((time.monotonic(), where))

    def during(self, gaps: list[tuple[float, float]]) -> list[tuple[str, int]]:
        """The most frequent stacks sampled inside the given (start, end) gaps."""
        counts: collections.Counter[str] = collections.Counter()
        for ts, where in self.samples:
            if any(start <= ts <= end for start, end in gaps):
                counts[where] += 1
        return counts.most_common(8)


def run(n: int, workers: int, workdir: Path, timeout_s: float, profile: bool) -> dict:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.journal import SqliteJournal
    from desktop_app.core.target import load_target
    from desktop_app.gui.app import Desk

    app = QApplication.instance() or QApplication([])
    journal_path = workdir / "queue.db.desk-journal"
    desk = Desk(load_target("tasks:huey"), str(journal_path), workers=workers)
    done: set[str] = set()  # ids the window has seen end
    waiting: dict[str, set[str]] = {}  # once the ids are known: those not ended yet

    def on_rows(rows: list[dict]) -> None:
        for row in rows:
            if row.get("state") in FINAL:
                done.add(row["task_id"])
                if "ids" in waiting:
                    waiting["ids"].discard(row["task_id"])

    desk.monitor.tasks_changed.connect(on_rows)
    gaps: list[float] = []
    long_gaps: list[tuple[float, float]] = []
    clock = QElapsedTimer()
    heartbeat = QTimer()
    heartbeat.setObjectName("stall-heartbeat")

    def beat() -> None:
        if clock.isValid():
            gap = clock.nsecsElapsed() / 1e6
            gaps.append(gap)
            if gap > 50:
                now = time.monotonic()
                long_gaps.append((now - gap / 1000, now))
        clock.restart()

    heartbeat.timeout.connect(beat)
    sampler = Sampler(threading.get_ident()) if profile else None
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ids_path = workdir / "ids.txt"
    run_state: dict = {"ids": None}

    def start_burst() -> None:
        heartbeat.start(HEARTBEAT_MS)
        if sampler is not None:
            sampler.start()
        run_state["t0"] = time.monotonic()
        run_state["proc"] = subprocess.Popen(
            [sys.executable, "-c", PRODUCER, str(n), str(journal_path), str(ids_path)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )

    def accounted() -> int:
        ids = run_state["ids"]
        return len(ids) - len(waiting["ids"]) if ids else 0

    def check_done() -> None:
        proc = run_state.get("proc")
        if proc is not None and run_state["ids"] is None and proc.poll() is not None:
            run_state["submit_s"] = float(proc.stdout.read().strip() or "nan")
            run_state["submitted_at"] = time.monotonic()
            run_state["ids"] = ids_path.read_text().split()
            waiting["ids"] = set(run_state["ids"]) - done
        if run_state["ids"] is not None and accounted() >= len(run_state["ids"]):
            run_state["drained_at"] = time.monotonic()
            finish()
        else:
            QTimer.singleShot(100, check_done)

    def finish() -> None:
        if run_state.get("finished"):
            return
        run_state["finished"] = True
        heartbeat.stop()
        if sampler is not None:
            sampler.stop()
        run_state["rows_in_window"] = desk.window.tasks_model.rowCount()
        desk.shutdown()
        app.quit()

    desk.start()

    def when_ready() -> None:
        if desk.consumer.state == "running" and desk.window.workers_model.rowCount():
            start_burst()
            QTimer.singleShot(100, check_done)
        else:
            QTimer.singleShot(50, when_ready)

    QTimer.singleShot(50, when_ready)
    QTimer.singleShot(int(timeout_s * 1000), finish)  # never hang
    app.exec()
    proc = run_state.get("proc")
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
    ids = run_state["ids"] or []
    journal = SqliteJournal(journal_path)
    in_journal = sum(1 for i in ids if (journal.task(i) or {}).get("state") in FINAL)
    journal.close()
    stalls = [max(0.0, g - HEARTBEAT_MS) for g in gaps]
    t0 = run_state.get("t0", 0.0)
    figures = {
        "tasks": len(ids),
        "accounted": accounted(),
        "accounted_in_journal": in_journal,
        "lost": len(ids) - in_journal,
        "max_stall_ms": round(max(stalls, default=0.0), 1),
        "median_stall_ms": round(statistics.median(stalls), 2) if stalls else None,
        "p99_stall_ms": round(sorted(stalls)[int(len(stalls) * 0.99)], 1) if stalls else None,
        "stalls_over_50_ms": len(long_gaps),
        "heartbeats": len(gaps),
        "submit_s": round(run_state.get("submit_s", float("nan")), 2),
        "drain_s": round(run_state["drained_at"] - t0, 2) if "drained_at" in run_state else None,
        "workers": workers,
        "rows_in_window": run_state.get("rows_in_window"),
    }
    if sampler is not None:
        figures["stall_stacks"] = sampler.during(long_gaps)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--tasks", type=int, default=10_000, help="how many to submit")
    parser.add_argument("--workers", type=int, default=2, help="consumer workers")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (s)")
    parser.add_argument(
        "--profile", action="store_true", help="sample the GUI thread during stalls"
    )
    ns = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="huey-desk-burst-") as tmp:
        os.environ["HUEY_DESK_DB"] = str(Path(tmp) / "queue.db")
        os.environ.pop("HUEY_DESK_JOURNAL", None)
        figures = run(ns.tasks, ns.workers, Path(tmp), ns.timeout, ns.profile)
    if ns.json:
        print(json.dumps(figures))
        return 0
    print(
        f"{figures['tasks']} tasks submitted in {figures['submit_s']} s by another process; "
        f"window and consumer ({figures['workers']} workers) on one queue"
    )
    print(
        f"  accounted: {figures['accounted']} in the window, "
        f"{figures['accounted_in_journal']} in the journal; lost {figures['lost']}; "
        f"all done {figures['drain_s']} s after the burst began"
    )
    print(
        f"  GUI thread: longest stall {figures['max_stall_ms']} ms, median "
        f"{figures['median_stall_ms']} ms, p99 {figures['p99_stall_ms']} ms, "
        f"{figures['stalls_over_50_ms']} stalls over 50 ms"
    )
    for where, count in figures.get("stall_stacks", []):
        print(f"    {count:5d} samples  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
