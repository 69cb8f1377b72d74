"""One paint of the tasks table, alone and beside a busy Python thread.

In one process (offscreen Qt): a tasks table of 1000 x 700 pixels (about 250 cells) on a
model holding 60 rows, repainted ``--paints`` times; the median and p90 of one paint,
with no other thread and with a thread beside it that runs Python without pause (as the
monitor or the search indexer does while it is busy: it wants the interpreter lock).

Baseline in the same run: the same table on a model without our ``index()`` and
``multiData()`` (Qt's own, which call ``rowCount()``, ``columnCount()`` and ``data()``
once per role: about nine calls into Python per cell) with Python's default 5 ms
switch interval, against ours with ``lock_turns.short_turns()``.  Medians over
``--repeats`` rounds, the configurations interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rows(count: int) -> list[dict]:
    now = time.time()
    return [
        {
            "task_id": f"{n:032x}",
            "seq": n,
            "task_name": "tasks.demo.make_thumbnail",
            "state": ("complete", "error", "executing")[n % 3],
            "args_preview": f"'user{n}@example.com', size=(640, 480)",
            "worker": "host-a:4242:Worker-1",
            "started_at": now - n,
            "duration": 0.0125 * n,
            "result_preview": "'ok'",
        }
        for n in range(count)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paints", type=int, default=40, help="paints per measurement")
    parser.add_argument("--repeats", type=int, default=5, help="rounds (median)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    ns = parser.parse_args(argv)

    from PySide6.QtCore import QAbstractItemModel, QAbstractTableModel
    from PySide6.QtWidgets import QApplication

    from desktop_app.gui.lock_turns import SWITCH_INTERVAL_S
    from desktop_app.gui.panel import table
    from desktop_app.gui.task_history import TasksModel

    class QtsOwnCalls(TasksModel):
        """The tasks model with Qt's own index() and multiData(): the baseline."""

        index = QAbstractTableModel.index
        multiData = QAbstractItemModel.multiData

    app = QApplication.instance() or QApplication([])
    views = {}
    for name, cls in (("baseline", QtsOwnCalls), ("ours", TasksModel)):
        model = cls()
        model.apply(rows(60))
        view = table(model, f"tasks-{name}", sorted_here=False)
        view.resize(1000, 700)
        view.show()
        views[name] = view
    app.processEvents()
    intervals = {"baseline": sys.getswitchinterval(), "ours": SWITCH_INTERVAL_S}

    busy = threading.Event()
    done = threading.Event()

    def spin() -> None:
        while not done.is_set():
            busy.wait()
            for _ in range(10_000):
                pass

    threading.Thread(target=spin, daemon=True).start()
    runs: dict[str, list[float]] = {}
    try:
        for _ in range(ns.repeats):
            for beside in ("alone", "busy"):
                for name, view in views.items():
                    sys.setswitchinterval(intervals[name])
                    busy.set() if beside == "busy" else busy.clear()
                    times = []
                    for _ in range(ns.paints):
                        start = time.perf_counter()
                        view.viewport().repaint()
                        times.append((time.perf_counter() - start) * 1000)
                    busy.clear()
                    times.sort()
                    key = f"{name}_{beside}"
                    runs.setdefault(f"{key}_p50_ms", []).append(statistics.median(times))
                    runs.setdefault(f"{key}_p90_ms", []).append(times[int(len(times) * 0.9)])
    finally:
        done.set()
        busy.set()
        sys.setswitchinterval(intervals["baseline"])
    figures = {key: round(statistics.median(values), 2) for key, values in runs.items()}
    for beside in ("alone", "busy"):
        figures[f"ratio_{beside}"] = round(
            figures[f"baseline_{beside}_p50_ms"] / figures[f"ours_{beside}_p50_ms"], 2
        )
    if ns.json:
        print(json.dumps(figures))
        return 0
    print(f"one paint of the tasks table (about 250 cells), medians of {ns.repeats} rounds")
    for beside, what in (("alone", "no other thread"), ("busy", "beside a busy thread")):
        print(
            f"  {what}: ours p50 {figures[f'ours_{beside}_p50_ms']} ms "
            f"(p90 {figures[f'ours_{beside}_p90_ms']}), Qt's own calls with a 5 ms turn "
            f"{figures[f'baseline_{beside}_p50_ms']} ms "
            f"(p90 {figures[f'baseline_{beside}_p90_ms']}): {figures[f'ratio_{beside}']}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
