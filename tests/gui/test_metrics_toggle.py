"""File → Serve metrics: the window serves its queue's figures, and says when it cannot."""

from __future__ import annotations

import socket
import urllib.request

from huey import SqliteHuey
from PySide6.QtCore import QSettings

from desktop_app.core.target import Target
from desktop_app.gui.app import Desk


def watching_desk(qtbot, tmp_path, port):
    QSettings("huey-desk", "huey-desk").setValue("metrics/port", port)
    huey = SqliteHuey("metrics-test", filename=str(tmp_path / "queue.db"))

    @huey.task()
    def noop() -> None:
        pass

    noop()
    noop()
    target = Target(spec="proj:huey", module="proj", attr="huey", huey=huey)
    desk = Desk(target, str(tmp_path / "journal.sqlite"), start_consumer=False)
    qtbot.addWidget(desk.window)
    desk.start()
    return desk


def test_checking_the_action_serves_the_queue_and_unchecking_stops(qtbot, tmp_path):
    desk = watching_desk(qtbot, tmp_path, 0)  # 0: a free port chosen by the system
    toggle = desk.window.metrics
    try:
        toggle.action.setChecked(True)
        qtbot.waitUntil(lambda: toggle.server is not None, timeout=10_000)
        url = f"http://127.0.0.1:{toggle.server.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            text = reply.read().decode()
        assert 'huey_desk_queue_depth{queue="metrics-test",where="pending"} 2.0' in text
        assert "Serving metrics at" in desk.window.statusBar().currentMessage()
        assert QSettings("huey-desk", "huey-desk").value("metrics/serve", type=bool)
        toggle.action.setChecked(False)
        qtbot.waitUntil(
            lambda: "no longer served" in desk.window.statusBar().currentMessage(),
            timeout=10_000,
        )
        assert toggle.server is None
    finally:
        desk.shutdown()


def test_a_port_in_use_unchecks_the_action_with_one_sentence(qtbot, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        desk = watching_desk(qtbot, tmp_path, taken.getsockname()[1])
        toggle = desk.window.metrics
        try:
            toggle.action.setChecked(True)
            qtbot.waitUntil(lambda: not toggle.action.isChecked(), timeout=10_000)
            message = desk.window.statusBar().currentMessage()
            assert message.startswith("Cannot serve metrics on 127.0.0.1 port")
            assert toggle.server is None
            assert not QSettings("huey-desk", "huey-desk").value("metrics/serve", type=bool)
        finally:
            desk.shutdown()
