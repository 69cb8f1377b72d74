"""benchmarks.table_paint measures both configurations and leaves the interval as it was."""

from __future__ import annotations

import json
import sys

from benchmarks import table_paint


def test_the_paint_benchmark_prints_every_figure(qapp, capsys):
    before = sys.getswitchinterval()
    assert table_paint.main(["--paints", "2", "--repeats", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    for name in ("baseline", "ours"):
        for beside in ("alone", "busy"):
            assert figures[f"{name}_{beside}_p50_ms"] > 0
    assert figures["ratio_alone"] > 0 and figures["ratio_busy"] > 0
    assert sys.getswitchinterval() == before
