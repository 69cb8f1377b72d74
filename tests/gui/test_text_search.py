"""A text filter over a long history: what the newest tasks hold at once, then the rest."""

from __future__ import annotations

import time

from desktop_app.core.journal import COMPLETE, ENQUEUED, NewEvent, SqliteJournal
from desktop_app.core.target import load_target
from desktop_app.gui import monitor as monitor_module
from desktop_app.gui.app import Desk


def history(path, count, marked):
    """``count`` finished tasks; the oldest ``marked`` of them have "q7" in their args."""
    journal = SqliteJournal(path)
    for i in range(count):
        args = f"'q7-{i}'" if i < marked else f"'user-{i}'"
        for kind, data in ((ENQUEUED, {"args_preview": args}), (COMPLETE, {})):
            journal.append(
                [
                    NewEvent(
                        kind=kind,
                        task_id=f"t-{i}",
                        task_name="app.mail",
                        ts=time.time(),
                        data=data,
                    )
                ]
            )
    journal.close()


def test_a_rare_text_shows_the_newest_tasks_answer_marked_then_the_whole_answer(
    qtbot, tmp_path, monkeypatch
):
    journal = tmp_path / "journal.sqlite"
    history(journal, 60, marked=5)
    monkeypatch.setattr(monitor_module, "SCAN_BOUND", 20)  # a first look at 20 of 60
    desk = Desk(load_target("tasks:huey"), str(journal), workers=1, start_consumer=False)
    qtbot.addWidget(desk.window)
    panel, model = desk.window.results_panel, desk.window.tasks_model
    seen = []  # what the panel said at each answer: (rows, note shown, note text)
    model.modelReset.connect(
        lambda: seen.append(
            (
                model.rowCount(),
                panel.search_note.isVisible(),
                panel.search_note.text(),
                panel.label.text(),
            )
        )
    )
    desk.start()
    try:
        # the history reads (which attach the search index) have connections of their
        # own, apart from the ones the monitor writes a Redis journal's local copy with
        qtbot.waitUntil(lambda: desk.monitor._history is not None, timeout=10_000)
        assert desk.monitor._history.journal is not desk.monitor._journal
        qtbot.waitUntil(lambda: model.rowCount() == 60, timeout=10_000)
        qtbot.waitUntil(lambda: "60 shown" in panel.label.text(), timeout=10_000)
        seen.clear()
        # two letters: no trigram index can answer it, so the first look is a bounded scan
        desk.window.text_filter.setText("q7")
        desk.window.apply_filter()
        qtbot.waitUntil(lambda: len(seen) >= 2, timeout=10_000)
        first, whole = seen[0], seen[-1]
        assert first[0] == 0 and first[1]
        assert "0 found in the newest 20 of 60 tasks" in first[2]
        assert "· 0+ shown" in first[3]  # the title counts what is shown, not yet all
        assert whole[:2] == (5, False)  # the whole answer: the note is gone
        qtbot.waitUntil(lambda: model.counted and model.total == 5, timeout=10_000)
        assert {r["args_preview"] for r in model.loaded_rows()} == {f"'q7-{i}'" for i in range(5)}
        # a text the newest tasks hold fills its first page at once: no note
        seen.clear()
        desk.window.text_filter.setText("user")
        desk.window.apply_filter()
        qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
        assert seen[0][0] == 55 and not seen[0][1]
    finally:
        desk.shutdown()
