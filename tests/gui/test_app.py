"""Starting the window on a queue file that cannot be used: the user is asked for another
file or quits; nothing crashes."""

from __future__ import annotations

import argparse
import sys

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop_app.gui import app


def _tasks_modules() -> dict:
    return {n: m for n, m in sys.modules.items() if n == "tasks" or n.startswith("tasks.")}


@pytest.fixture
def fresh_tasks():
    """Import ``tasks`` anew (it reads HUEY_DESK_DB when imported); afterwards put back
    exactly the modules there were, so later tests see the session's queue."""
    before = _tasks_modules()
    for name in before:
        del sys.modules[name]
    yield
    for name, module in _tasks_modules().items():
        huey = getattr(module, "huey", None)
        if huey is not None and name == "tasks.config":
            huey.storage.close()
        del sys.modules[name]
    sys.modules.update(before)


@pytest.fixture
def dialogs(monkeypatch):
    """Answer the message box with the button named in ``answers`` (in turn), and the file
    dialog with ``files`` (in turn); record what the user was told."""
    seen = {"messages": [], "answers": [], "files": [], "file_dialogs": 0}

    def exec_(box):
        seen["messages"].append(box.text())
        wanted = seen["answers"].pop(0)
        for button in box.buttons():
            if button.text() == wanted:
                assert button.isEnabled(), wanted
                button.click()
                return 0
        raise AssertionError(f"no button {wanted!r} in {[b.text() for b in box.buttons()]}")

    def get_save_file_name(*args, **kwargs):
        seen["file_dialogs"] += 1
        return (seen["files"].pop(0), "")

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(get_save_file_name))
    return seen


def corrupt(path):
    path.write_bytes(b"this is not a sqlite database" * 200)
    return path


def test_a_corrupt_queue_offers_another_file(qtbot, tmp_path, monkeypatch, fresh_tasks, dialogs):
    bad = corrupt(tmp_path / "bad.db")
    monkeypatch.setenv("HUEY_DESK_DB", str(bad))
    good = tmp_path / "chosen" / "good.db"
    dialogs["answers"] = [app.CHOOSE_ANOTHER]
    dialogs["files"] = [str(good)]
    target = app.load_target_or_ask(None)
    assert target is not None
    assert target.huey.storage.filename == str(good) and good.is_file()
    assert str(bad) in dialogs["messages"][0] and "not a database" in dialogs["messages"][0]
    # the window opens on the file chosen
    desk = app.Desk(target, str(tmp_path / "journal.sqlite"), start_consumer=False)
    qtbot.addWidget(desk.window)
    desk.start()
    qtbot.waitUntil(lambda: desk.window.isVisible())
    desk.shutdown()


def test_cancelling_the_file_dialog_asks_again_then_quit(
    tmp_path, monkeypatch, fresh_tasks, dialogs
):
    monkeypatch.setenv("HUEY_DESK_DB", str(corrupt(tmp_path / "bad.db")))
    dialogs["answers"] = [app.CHOOSE_ANOTHER, "Quit"]
    dialogs["files"] = [""]  # the file dialog was cancelled
    assert app.load_target_or_ask(None) is None
    assert dialogs["file_dialogs"] == 1 and len(dialogs["messages"]) == 2


def test_another_bad_choice_is_explained_again(tmp_path, monkeypatch, fresh_tasks, dialogs):
    monkeypatch.setenv("HUEY_DESK_DB", str(corrupt(tmp_path / "bad.db")))
    also_bad = corrupt(tmp_path / "also-bad.db")
    dialogs["answers"] = [app.CHOOSE_ANOTHER, "Quit"]
    dialogs["files"] = [str(also_bad)]
    assert app.load_target_or_ask(None) is None
    assert str(also_bad) in dialogs["messages"][1]


def test_run_gui_quits_with_2_and_no_window(qapp, tmp_path, monkeypatch, fresh_tasks, dialogs):
    monkeypatch.setenv("HUEY_DESK_DB", str(corrupt(tmp_path / "bad.db")))
    names = (qapp.applicationName(), qapp.organizationName())
    dialogs["answers"] = ["Quit"]
    ns = argparse.Namespace(huey=None, path=[], journal=None, workers=1, no_consumer=True)
    try:
        assert app.run_gui(ns) == 2
    finally:
        qapp.setApplicationName(names[0])
        qapp.setOrganizationName(names[1])
    assert not [w for w in qapp.topLevelWidgets() if w.isVisible()]


def test_a_project_queue_cannot_be_swapped_only_quit(tmp_path, monkeypatch, dialogs):
    bad = corrupt(tmp_path / "project.db")
    (tmp_path / "project_app_xyz.py").write_text(
        f"from huey import SqliteHuey\nhuey = SqliteHuey('p', filename={str(bad)!r})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    dialogs["answers"] = [app.CHOOSE_ANOTHER]
    with pytest.raises(AssertionError, match="Choose another"):
        app.load_target_or_ask("project_app_xyz:huey")  # the button is disabled
    dialogs["answers"] = ["Quit"]
    assert app.load_target_or_ask("project_app_xyz:huey") is None
    assert str(bad) in dialogs["messages"][-1]
    sys.modules.pop("project_app_xyz", None)
