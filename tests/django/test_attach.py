"""``--django SETTINGS``: every command attaches to the project's djhuey Huey, and each way
a project can fail to open is one sentence with exit 2 (no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.djsite import SETTINGS, SITE, make_site

ALL, WRITERS = ("status", "consumer"), ("consumer",)


def refused(proc: subprocess.CompletedProcess) -> str:
    """The one line a refused command printed."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_tasks_lists_the_projects_djhuey_tasks(djsite):
    names = {t["name"]: t for t in djsite.cli_json("tasks")["tasks"]}
    assert names["shop.tasks.send_email"]["signature"] == "(user_id: int) -> str"
    assert names["shop.tasks.tidy_carts"]["periodic"] is True
    assert names["shop.tasks.mark_paid"]["signature"] == "(order_id: int) -> bool"


def test_status_names_the_project_and_its_storage(djsite):
    status = djsite.cli_json("status")
    assert status["target"] == f"django:{SETTINGS}"
    assert status["pending"] == 0


def test_django_settings_module_is_used_when_no_target_is_given(djsite_sqlite):
    env = dict(djsite_sqlite.env, PYTHONPATH=djsite_sqlite.env["PYTHONPATH"])
    proc = subprocess.run(
        [sys.executable, "-m", "desktop_app", "status", "--json", "--path", str(SITE)],
        env=env,
        cwd=djsite_sqlite.data,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["target"] == f"django:{SETTINGS}"


def test_settings_that_do_not_exist_are_refused(djsite_sqlite):
    proc = subprocess.run(
        [sys.executable, "-m", "desktop_app", "status", "--django", "nosuch.settings"],
        env=djsite_sqlite.env,
        cwd=djsite_sqlite.data,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = refused(proc)
    assert "No Django settings module 'nosuch.settings' was found" in line
    assert "--path" in line


def test_settings_that_fail_to_import_are_refused_with_their_own_error(tmp_path):
    site = make_site(tmp_path, "broken", migrate=False)
    line = refused(site.cli("status"))
    assert "RuntimeError: DJSITE_HUEY=broken: these settings fail on purpose" in line


@pytest.mark.parametrize(
    ("kind", "words", "commands"),
    [
        ("no-djhuey", "huey.contrib.djhuey is not in INSTALLED_APPS of djsite.settings", ALL),
        ("none", "djsite.settings has no HUEY setting", ALL),
        # (status would first say that the queue does not exist)
        ("bad-db", "Django cannot open the database 'default' of djsite.settings", WRITERS),
        ("immediate", "is in immediate mode", ALL),
    ],
)
def test_a_project_that_cannot_be_opened_is_refused_in_one_sentence(
    tmp_path, kind, words, commands
):
    site = make_site(tmp_path, kind, migrate=False)
    for command in commands:
        assert words in refused(site.cli(command))


def test_without_django_the_extra_to_install_is_named(djsite_sqlite, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "django.py").write_text("raise ImportError('No module named django')\n")
    djsite_sqlite.env["PYTHONPATH"] = f"{blocker}:{djsite_sqlite.env['PYTHONPATH']}"
    line = refused(djsite_sqlite.cli("tasks"))
    assert "pip install 'huey-desk[django]'" in line


def test_a_read_only_command_creates_no_database_or_queue(tmp_path):
    site = make_site(tmp_path, "sqlite", migrate=False)
    line = refused(site.cli("status"))
    assert "does not exist" in line
    assert sorted(p.name for p in site.data.iterdir()) == []


def test_django_and_huey_together_are_refused(djsite_sqlite):
    line = refused(djsite_sqlite.cli("status", "--huey", "tasks:huey"))
    assert line.endswith("Give either --django or --huey, not both.")


def test_a_queue_name_needs_django_huey(djsite_sqlite):
    line = refused(djsite_sqlite.cli("status", "--queue", "mail"))
    assert "--queue mail needs django-huey" in line


def test_a_django_huey_queue_is_chosen_with_queue(tmp_path):
    site = make_site(tmp_path, "queues")
    names = [t["name"] for t in site.cli_json("tasks", "--queue", "reports")["tasks"]]
    assert names == ["shop.tasks.build_report"]
    assert site.cli_json("status", "--queue", "reports")["target"] == f"django:{SETTINGS}:reports"
    line = refused(site.cli("status", "--queue", "nosuch"))
    assert line.endswith("has no django-huey queue 'nosuch'; its queues: mail, reports.")
