"""Event to screen, and GUI-thread stalls, in the real window under a stream of tasks.

The window (offscreen) runs its own consumer with 2 workers; another process enqueues
no-op tasks with plain Huey calls at a steady rate.  For every task that completes, the
latency runs from the consumer's "complete" event (its timestamp) to the moment the
tasks model on the GUI thread holds the row as complete.  A 5 ms heartbeat timer on the
GUI thread records the longest gap (a stall).  Baseline in the same run: the same window
with the monitor polling once a second, as dashboards that poll do.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.watchdog import Watchdog, add_option, print_summary

ROOT = Path(__file__).resolve().parent.parent

PRODUCER = """
import sys, time
from tasks.demo import noop
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
start = time.monotonic(); sent = 0
while time.monotonic() - start < seconds:
    noop(); sent += 1
    time.sleep(max(0.0, start + sent / rate - time.monotonic()))
print(sent)
"""


def run(
    tick_ms: int, rate: float, seconds: float, workdir: Path, watchdog_ms: float | None = None
) -> dict:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    import desktop_app.gui.monitor as monitor_module
    from desktop_app.core.target import load_target
    from desktop_app.gui.app import Desk
    from desktop_app.gui.collector import GuiCollector
    from desktop_app.gui.lock_turns import short_turns

    monitor_module.TICK_MS = tick_ms
    app = QApplication.instance() or QApplication([])
    collector = GuiCollector()  # as the window's main() does
    short_turns()
    desk = Desk(load_target("tasks:huey"), str(workdir / f"journal-{tick_ms}.sqlite"), workers=2)
    latencies: list[float] = []
    seen: set[str] = set()

    def on_rows(rows: list[dict]) -> None:
        now = time.time()
        for row in rows:
            if row.get("state") == "complete" and row["task_id"] not in seen:
                seen.add(row["task_id"])
                latencies.append((now - row["state_ts"]) * 1000)

    desk.monitor.tasks_changed.connect(on_rows)
    stall = {"max": 0.0}
    watchdog = Watchdog(watchdog_ms) if watchdog_ms else None
    clock = QElapsedTimer()
    heartbeat = QTimer()
    heartbeat.setObjectName("stall-heartbeat")

    def beat() -> None:
        if clock.isValid():
            stall["max"] = max(stall["max"], clock.nsecsElapsed() / 1e6 - 5.0)
        clock.restart()
        if watchdog is not None:
            watchdog.beat()

    heartbeat.timeout.connect(beat)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    producer: dict = {}

    def start_producer() -> None:
        heartbeat.start(5)
        if watchdog is not None:
            watchdog.start()
        producer["proc"] = subprocess.Popen(
            [sys.executable, "-c", PRODUCER, str(rate), str(seconds)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )

    def check_done() -> None:
        proc = producer.get("proc")
        if (
            proc is not None
            and proc.poll() is not None
            and len(seen) >= producer.setdefault("sent", int(proc.stdout.read().strip() or 0))
        ):
            finish()
        else:
            QTimer.singleShot(100, check_done)

    def finish() -> None:
        heartbeat.stop()
        if watchdog is not None and watchdog.running:
            watchdog.stop()
        desk.shutdown()
        app.quit()

    desk.start()
    collector.settle()

    def when_ready() -> None:
        if desk.consumer.state == "running" and desk.window.workers_model.rowCount():
            start_producer()
            QTimer.singleShot(100, check_done)
        else:
            QTimer.singleShot(50, when_ready)

    QTimer.singleShot(50, when_ready)
    QTimer.singleShot(int((seconds + 60) * 1000), finish)  # never hang
    app.exec()
    collector.stop()
    gc.unfreeze()  # the baseline's window is made next, in this process
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))], 1)

    return {
        **({"watchdog": watchdog.summary()} if watchdog is not None else {}),
        "tasks": len(latencies),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "max_stall_ms": round(stall["max"], 1),
    }


def monitor_tick() -> int:
    from desktop_app.gui.monitor import TICK_MS

    return TICK_MS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rate", type=float, default=50.0, help="tasks per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    add_option(
        parser, "record the GUI thread's stack while it has not beaten for more than MS (30)"
    )
    ns = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="huey-desk-window-") as tmp:
        os.environ["HUEY_DESK_DB"] = str(Path(tmp) / "queue.db")
        tick = monitor_tick()
        ours = run(tick, ns.rate, ns.seconds, Path(tmp), ns.watchdog)
        base = run(1000, ns.rate, ns.seconds, Path(tmp))
    figures = {
        "event_to_screen_p50_ms": ours["p50_ms"],
        "event_to_screen_p99_ms": ours["p99_ms"],
        "max_stall_ms": ours["max_stall_ms"],
        "tasks": ours["tasks"],
        "baseline_p50_ms": base["p50_ms"],
        "baseline_p99_ms": base["p99_ms"],
        "baseline_max_stall_ms": base["max_stall_ms"],
        "rate": ns.rate,
    }
    if "watchdog" in ours:
        figures["watchdog"] = ours["watchdog"]
    if ns.json:
        print(json.dumps(figures))
    else:
        print(f"{ours['tasks']} tasks at {ns.rate:g}/s for {ns.seconds:g} s, 2 workers")
        print(
            f"  ours (journal tailed every {tick} ms): event to screen "
            f"p50 {ours['p50_ms']} ms, p99 {ours['p99_ms']} ms; "
            f"longest GUI stall {ours['max_stall_ms']} ms"
        )
        print(
            f"  baseline (polled every 1 s): p50 {base['p50_ms']} ms, p99 {base['p99_ms']} ms;"
            f" longest GUI stall {base['max_stall_ms']} ms"
        )
        if "watchdog" in ours:
            print_summary(ours["watchdog"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
