"""The alerts panel and the rules' dialog; the window telling an alert from a real queue."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox

from desktop_app.core.alerts import Rules, load_rules
from desktop_app.gui.alerts_panel import AlertRulesDialog, AlertsPanel


def alert(rule, fired_at, cleared_at=None, message="m"):
    return {"rule": rule, "message": message, "fired_at": fired_at, "cleared_at": cleared_at}


def test_the_panel_lists_alerts_newest_first_and_counts_those_on(qtbot):
    panel = AlertsPanel()
    qtbot.addWidget(panel)
    counts = []
    panel.count_changed.connect(counts.append)
    panel.apply({"changes": [alert("deeper", 10.0)], "active": [alert("deeper", 10.0)]})
    panel.apply(
        {"changes": [alert("failures", 20.0)], "active": [alert("deeper", 10.0, message="now 9")]}
    )
    model = panel.model
    assert [model.row(i)["rule"] for i in range(model.rowCount())] == ["failures", "deeper"]
    assert model.row(1)["message"] == "now 9"  # the text follows the figures
    panel.apply({"changes": [alert("deeper", 10.0, cleared_at=30.0)], "active": []})
    assert model.row(1)["state"] == "cleared" and model.rowCount() == 2
    assert counts == [1, 2, 1]
    rule = model.index(1, 1).data()
    assert rule == "Queue too deep"


def test_the_summary_says_which_rules_are_on(qtbot):
    panel = AlertsPanel()
    qtbot.addWidget(panel)
    panel.show_rules(Rules())
    assert "failures" in panel.summary.text() and "failure rate" not in panel.summary.text()
    off = {f: False for f in Rules.__dataclass_fields__ if f.endswith("_on")}
    panel.show_rules(Rules(**off))
    assert "nothing" in panel.summary.text()


def test_the_dialog_shows_and_returns_the_rules(qtbot):
    dialog = AlertRulesDialog(Rules(deeper_than=500, failure_rate_on=True))
    qtbot.addWidget(dialog)
    assert dialog.findChild(QCheckBox, "rule-failure_rate_on").isChecked()
    assert dialog.fields["deeper_than"].value() == 500
    dialog.fields["deeper_on"].setChecked(False)
    assert not dialog.fields["deeper_than"].isEnabled()  # its threshold follows the switch
    dialog.fields["oldest_pending_s"].setValue(42.0)
    got = dialog.rules()
    assert got.deeper_on is False and got.oldest_pending_s == 42.0 and got.deeper_than == 500
    dialog.set_rules(Rules())
    assert dialog.rules() == Rules()


def test_the_window_saves_new_rules_and_the_monitor_uses_them(qtbot, tmp_path):
    from huey import MemoryHuey

    from tests.gui.test_main_window import window_on

    window = window_on(qtbot, MemoryHuey("m"))
    rules = Rules(deeper_than=3, growing_on=False)
    window.apply_alert_rules(rules)
    assert load_rules() == rules  # alerts.json in the test's data folder
    assert "queue growing" not in window.alerts_panel.summary.text()


def test_the_window_tells_an_alert_from_its_queue_once_and_its_clearing(qtbot, tmp_path):
    from huey import SqliteHuey

    from desktop_app.core.alerts import save_rules
    from desktop_app.core.target import Target
    from desktop_app.gui.app import Desk

    off = {f: False for f in Rules.__dataclass_fields__ if f.endswith("_on")}
    save_rules(Rules(**{**off, "deeper_on": True, "deeper_than": 3}))
    huey = SqliteHuey("alerts-test", filename=str(tmp_path / "queue.db"))

    @huey.task()
    def noop() -> None:
        pass

    for _ in range(5):
        noop()
    target = Target(spec="proj:huey", module="proj", attr="huey", huey=huey)
    desk = Desk(target, str(tmp_path / "journal.sqlite"), start_consumer=False)
    qtbot.addWidget(desk.window)
    told = []
    desk.window.notifier.notified.connect(lambda title, text, _id: told.append(title))
    desk.start()
    try:
        model = desk.window.alerts_panel.model
        qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=10_000)
        assert model.row(0)["state"] == "firing" and "5 tasks" in model.row(0)["message"]
        tabs = desk.window.workers_panel.below
        assert tabs.tabText(tabs.indexOf(desk.window.alerts_panel)) == "Alerts (1)"
        huey.flush()
        desk.window.refresh_requested.emit()
        qtbot.waitUntil(lambda: model.row(0)["state"] == "cleared", timeout=10_000)
        assert told == ["Alert: Queue too deep", "Cleared: Queue too deep"]
        assert tabs.tabText(tabs.indexOf(desk.window.alerts_panel)) == "Alerts"
    finally:
        desk.shutdown()
