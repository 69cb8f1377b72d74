"""The event-loop watchdog records a gap without a beat, with the frame it was stuck in."""

from __future__ import annotations

import gc
import json
import time

from benchmarks.watchdog import Watchdog, in_qt_loop


def stuck_until(condition) -> None:
    """The deliberate gap: the watched thread busy in Python, beating not at all."""
    give_up = time.monotonic() + 30  # a guard against a sampler that never samples
    gc.collect()  # a collection inside the gap, as the window's collector makes them
    while not condition():
        sum(range(1000))  # most samples fall here, in this frame
        assert time.monotonic() < give_up, "the watchdog took no samples"


def test_a_gap_is_recorded_with_the_frame_it_was_stuck_in(tmp_path):
    watchdog = Watchdog(threshold_ms=30, sample_ms=2)
    watchdog.start()
    try:
        watchdog.beat()
        stuck_until(lambda: watchdog.samples_in_gap() >= 3)
        watchdog.beat()
    finally:
        watchdog.stop()

    assert len(watchdog.gaps) == 1
    gap = watchdog.gaps[0]
    assert gap.ms > 30
    assert len(gap.samples) >= 3
    # the sample falls in the busy loop or in the condition it calls
    for sample in gap.samples:
        frames = [frame.split(" (")[0] for frame in sample["stack"]]
        assert "stuck_until" in frames[:3], frames
    assert [c["generation"] for c in gap.collections] == [2]
    summary = watchdog.summary()
    assert summary["gaps"] == 1
    assert summary["gaps_with_gc"] == 1
    assert sum(n for _, n in summary["innermost"]) == len(gap.samples)
    for stack, _ in summary["stacks"]:
        assert any(f.startswith("stuck_until (benchmarks/test_watchdog.py:") for f in stack)
    out = tmp_path / "gaps.json"
    watchdog.write(out)
    written = json.loads(out.read_text())
    assert written["summary"]["gaps"] == 1
    assert len(written["gaps"][0]["samples"]) == len(gap.samples)


def test_a_stack_that_ends_in_the_event_loop_is_told_apart():
    assert in_qt_loop(["wait (benchmarks/monitor.py:248) `app.processEvents()`"])
    assert in_qt_loop(["main (desktop_app/app.py:9) `return app.exec()`"])
    assert not in_qt_loop(["apply (gui/windowed_model.py:283) `self.beginInsertRows(a, 0, 1)`"])
    assert not in_qt_loop([])
