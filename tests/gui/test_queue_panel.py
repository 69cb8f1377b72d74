"""The queue panel: its title says where the waiting tasks are."""

from __future__ import annotations

from desktop_app.gui.queue_panel import QueuePanel
from desktop_app.gui.queue_table import QueueModel


def test_the_title_counts_the_queue_and_the_schedule_and_explains_delayed_tasks(qtbot):
    panel = QueuePanel(QueueModel())
    qtbot.addWidget(panel)
    panel.show_status({"pending": 1234, "scheduled": 2})
    assert "1,234 in the queue, 2 in the schedule" in panel.label.text()
    assert "delayed task waits in the queue" in panel.label.toolTip()


def test_a_long_title_does_not_widen_the_panel(qtbot):
    panel = QueuePanel(QueueModel())
    qtbot.addWidget(panel)
    before = panel.minimumSizeHint().width()
    panel.show_status({"pending": 123_456_789, "scheduled": 987_654_321})
    assert panel.minimumSizeHint().width() == before
