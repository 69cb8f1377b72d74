"""Storage faults as the user of ``huey-desk`` meets them: one sentence that names the
file, the right exit code, no traceback, and the jobs already queued still there."""

from __future__ import annotations

import subprocess
import sys

import pytest

from desktop_app.core.paths import ensure_private_file
from tests.fault_helpers import Locker, damage, read_only
from tests.helpers import ROOT, cli, cli_json, env_for, run_python


def refused(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def env(tmp_path):
    # an empty queue file: read-only commands refuse a queue that does not exist
    return env_for(ensure_private_file(tmp_path / "queue.db"))


def pending(env, *extra: str) -> int:
    return cli_json(env, "status", *extra)["pending"]


def test_missing_queue_is_created_with_its_folders(tmp_path):
    env = env_for(tmp_path / "not" / "yet" / "queue.db")
    assert cli(env, "submit", "noop").returncode == 0
    assert (tmp_path / "not" / "yet" / "queue.db").is_file()
    assert pending(env) == 1


@pytest.mark.parametrize("command", [["status"], ["submit", "noop"], ["tasks"], ["show", "abcd"]])
def test_not_a_sqlite_file_names_it_and_exits_2(tmp_path, command):
    bad = tmp_path / "queue.db"
    bad.write_bytes(b"GIF89a not a database" * 400)
    line = refused(cli(env_for(bad), *command))
    assert str(bad) in line and "not a database" in line and "HUEY_DESK_DB" in line


def test_damaged_queue_names_it_and_keeps_the_file(env, tmp_path):
    fill = "from tasks.demo import send_email\nfor _ in range(40): send_email(1, 's' * 900)\n"
    assert run_python(env, fill).returncode == 0
    db = tmp_path / "queue.db"
    damage(db)
    size = db.stat().st_size
    for command in (["status"], ["submit", "noop"]):
        line = refused(cli(env, *command))
        assert str(db) in line and "damaged" in line
    assert db.stat().st_size == size  # nothing was written to it


def test_a_file_where_the_queue_folder_should_be(tmp_path):
    (tmp_path / "plain-file").write_text("")
    db = tmp_path / "plain-file" / "queue.db"
    line = refused(cli(env_for(db), "status"))
    assert str(tmp_path / "plain-file") in line and "HUEY_DESK_DB" in line


def test_queue_that_is_a_folder(tmp_path):
    (tmp_path / "queue.db").mkdir()
    line = refused(cli(env_for(tmp_path / "queue.db"), "status"))
    assert str(tmp_path / "queue.db") in line and "cannot be opened" in line


def test_folder_that_cannot_be_written(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        line = refused(cli(env_for(folder / "queue.db"), "submit", "noop"))
    assert str(folder / "queue.db") in line and "cannot be created" in line


def test_read_only_queue_file_refuses_submit_but_shows_the_queue(env, tmp_path):
    first = cli_json(env, "submit", "noop")["id"]
    cli_json(env, "submit", "noop")
    db = tmp_path / "queue.db"
    with read_only(db):
        line = refused(cli(env, "submit", "noop"))
        assert "read-only" in line and str(db) in line
        assert pending(env) == 2
        assert cli_json(env, "show", first)["state"] == "enqueued"
    assert pending(env) == 2


def test_full_disk_refuses_submit_and_keeps_the_queue(env):
    target = ("--huey", "tests.targets.full:huey")
    for i in range(3):
        cli_json(env, "submit", "echo", "--args", f"[{i}]", *target)
    full = dict(env, HUEY_DESK_MAX_PAGES="1")
    line = refused(cli(full, "submit", "echo", "--args", '["' + "x" * 100_000 + '"]', *target))
    assert "full" in line and "free some space" in line
    assert pending(full, *target) == 3
    status = cli(full, "status", *target)
    assert status.returncode == 0 and "pending 3" in status.stdout


def test_lock_held_by_another_process_is_waited_for_then_submits_once(env, tmp_path):
    target = ("--huey", "tests.targets.busy:huey")
    cli_json(env, "submit", "echo", "--args", '["before"]', *target)
    with Locker(tmp_path / "queue.db") as locker:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "desktop_app",
                "submit",
                "echo",
                "--args",
                '["during"]',
                *target,
                "--json",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        notice = proc.stderr.readline()  # blocks until the command says it is waiting
        assert "busy" in notice and "retrying" in notice, notice
        locker.release()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    status = cli_json(env, "status", *target)
    assert status["pending"] == 2
    show = cli_json(env, "show", out.split('"')[3], *target)
    assert show["args"] == ["during"]


def test_lock_held_past_every_retry_says_busy_and_writes_nothing(env, tmp_path):
    target = ("--huey", "tests.targets.busy:huey")
    cli_json(env, "submit", "echo", "--args", "[1]", *target)
    with Locker(tmp_path / "queue.db"):
        proc = cli(env, "submit", "echo", "--args", "[2]", *target)
    assert proc.returncode == 1  # not a mistake of the user: try again
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "retrying" in lines[0] and "try again in a moment" in lines[-1]
    assert pending(env, *target) == 1


# -- the journal and the queue disagree -------------------------------------------------
def test_deleted_journal_status_and_show_say_what_they_cannot_know(env, tmp_path):
    ids = [cli_json(env, "submit", "noop")["id"] for _ in range(3)]
    for path in tmp_path.glob("queue.db.desk-journal*"):
        path.unlink()
    status = cli_json(env, "status")
    assert status["pending"] == 3
    assert any("3 queued task(s) are not in the journal" in n for n in status["notes"])
    text = cli(env, "status").stdout
    assert "note: 3 queued task(s) are not in the journal" in text
    info = cli_json(env, "show", ids[0])
    assert info["state"] == "enqueued" and info["task"] == "tasks.demo.noop"
    assert any("no record of this task" in n for n in info["notes"])
    assert "note: the journal has no record" in cli(env, "show", ids[0]).stdout


def test_plain_producer_without_hooks(env, tmp_path):
    code = "from tasks.demo import send_email\nprint(send_email(5).id)\n"
    proc = run_python(env, code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    task_id = proc.stdout.strip()
    cli_json(env, "submit", "noop")
    status = cli_json(env, "status")
    assert status["pending"] == 2
    assert status["notes"] == [
        "1 queued task(s) are not in the journal (enqueued without Huey Desk, or the "
        "journal was removed): when they were enqueued is not known."
    ]
    info = cli_json(env, "show", task_id)
    assert info["state"] == "enqueued" and info["queued"]["args"] == "5"
    assert any("no record of this task" in n for n in info["notes"])
