"""Read-only commands never create a queue or a journal, and the default target is always
the embedded demo queue, whatever folder the command runs in."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import cli, cli_json, env_for, run_python


def refused(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["show", "abcd1234"]])
def test_read_only_commands_do_not_create_the_default_queue(tmp_path, command):
    db = tmp_path / "nonexistent" / "dir" / "q.db"
    line = refused(cli(env_for(db), *command))
    assert str(db) in line and "does not exist" in line and "HUEY_DESK_DB" in line
    assert not (tmp_path / "nonexistent").exists()


def test_tasks_on_a_fresh_install_lists_the_demo_tasks_and_creates_nothing(tmp_path):
    """The README's first command works before any queue exists, and makes none."""
    db = tmp_path / "fresh" / "q.db"
    proc = cli(env_for(db), "tasks")
    assert proc.returncode == 0, proc.stderr
    assert "send_email(user_id: int" in proc.stdout
    assert not (tmp_path / "fresh").exists()


def test_window_that_only_watches_does_not_create_the_default_queue(tmp_path):
    db = tmp_path / "missing" / "q.db"
    line = refused(cli(env_for(db), "--no-consumer"))
    assert str(db) in line and "does not exist" in line
    assert not (tmp_path / "missing").exists()


def test_window_that_only_watches_does_not_create_a_target_queue(tmp_path):
    db = tmp_path / "project-queue.db"
    (tmp_path / "proj_app.py").write_text(
        f"from huey import SqliteHuey\nhuey = SqliteHuey('proj', filename={str(db)!r})\n"
    )
    env = env_for(tmp_path / "default.db", QT_QPA_PLATFORM="offscreen")
    args = ("--no-consumer", "--huey", "proj_app:huey", "--path", str(tmp_path))
    line = refused(cli(env, *args))
    assert str(db) in line and "does not exist" in line
    assert not db.exists()


def test_read_only_commands_do_not_create_a_target_queue(tmp_path):
    db = tmp_path / "project-queue.db"
    (tmp_path / "proj_app.py").write_text(
        f"from huey import SqliteHuey\nhuey = SqliteHuey('proj', filename={str(db)!r})\n"
    )
    env = env_for(tmp_path / "default.db")
    for command in (["status"], ["show", "abcd1234"], ["tasks"]):
        line = refused(cli(env, *command, "--huey", "proj_app:huey", "--path", str(tmp_path)))
        assert str(db) in line and "does not exist" in line
    assert {p.name for p in tmp_path.iterdir()} - {"__pycache__"} == {"proj_app.py"}
    # a command that writes creates it
    assert cli(env, "consumer", "--huey", "proj_app:huey", "--path", "/nope").returncode == 2
    assert not db.exists()


def test_status_of_a_queue_without_a_journal_creates_none(tmp_path):
    db = tmp_path / "plain.db"
    (tmp_path / "plain_app.py").write_text(
        "from huey import SqliteHuey\n"
        f"huey = SqliteHuey('plain', filename={str(db)!r})\n"
        "@huey.task()\ndef add(a, b):\n    return a + b\n"
    )
    env = env_for(tmp_path / "default.db")
    proc = run_python(env, "import plain_app\nplain_app.add(1, 2)\n", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    status = cli_json(env, "status", "--huey", "plain_app:huey", "--path", str(tmp_path))
    assert status["pending"] == 1
    assert status["journal"] == str(db) + ".desk-journal"
    assert any("no journal" in n for n in status["notes"])
    assert not (tmp_path / "plain.db.desk-journal").exists()


def test_a_tasks_module_in_the_current_folder_does_not_shadow_the_default(tmp_path):
    other = tmp_path / "other.db"
    (tmp_path / "tasks.py").write_text(
        "from huey import SqliteHuey\n"
        f"huey = SqliteHuey('someone-else', filename={str(other)!r})\n"
    )
    env = env_for(tmp_path / "default.db")
    assert cli(env, "submit", "noop", cwd=tmp_path).returncode == 0
    status = cli_json(env, "status", cwd=tmp_path)
    assert status["queue"] == "huey-desk" and status["pending"] == 1
    assert not other.exists()
    # asked for with --path, the project's own tasks module is used
    other.touch()
    mine = cli_json(env, "status", "--path", str(tmp_path), "--huey", "tasks:huey", cwd=tmp_path)
    assert mine["queue"] == "someone-else"
