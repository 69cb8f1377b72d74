"""The charts: whole-number ticks for counts, a legend that covers no line."""

from __future__ import annotations

import time

from desktop_app.gui.charts import WINDOW_S, ChartsPanel


def make(qtbot):
    charts = ChartsPanel()
    qtbot.addWidget(charts)
    return charts


def test_counts_get_whole_number_ticks(qtbot):
    charts = make(qtbot)
    for plot in (charts.throughput, charts.queue):
        axis = plot.getAxis("left")
        for low, high in ((0, 1), (0, 2), (0, 3.5), (0, 40)):
            levels = axis.tickValues(low, high, 150)
            values = [v for _spacing, vs in levels for v in vs]
            assert values, (low, high)
            assert all(float(v).is_integer() for v in values), (low, high, values)
            assert all(spacing >= 1 for spacing, _ in levels)
        assert axis.tickStrings([0.0, 1.0, 2.0], 1.0, 1.0) == ["0", "1", "2"]


def test_the_legend_is_in_the_title_not_on_the_lines(qtbot):
    charts = make(qtbot)
    assert charts.throughput.getPlotItem().legend is None
    title = charts.throughput.getPlotItem().titleLabel.text
    assert "done" in title and "failed" in title


def test_an_idle_chart_starts_at_zero_with_room_for_one(qtbot):
    charts = make(qtbot)
    charts.on_events([{"kind": "complete", "ts": time.time(), "data": {}}])
    charts.on_status({"pending": 0, "scheduled": 0})
    charts.redraw()
    for plot in (charts.throughput, charts.queue):
        low, high = plot.getViewBox().viewRange()[1]
        assert low >= -0.01 and high >= 1


def test_both_charts_span_the_same_minutes_and_old_depths_are_dropped(qtbot):
    charts = make(qtbot)
    now = time.time()
    charts.depth.append((now - WINDOW_S - 60, 7))  # older than the window
    charts.on_status({"pending": 3, "scheduled": 1})
    charts.on_events([{"kind": "complete", "ts": now, "data": {}}])
    charts.redraw()
    assert [d for _t, d in charts.depth] == [4]
    spans = [plot.getViewBox().viewRange()[0] for plot in (charts.throughput, charts.queue)]
    assert spans[0] == spans[1]
    low, high = spans[0]
    assert high - low >= WINDOW_S and high >= now
