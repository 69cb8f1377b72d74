"""Actions and look-ups by id from the command line, run in this process: tasks enqueued
by plain Huey are found by a prefix, and a typo is refused cheaply and plainly."""

from __future__ import annotations

import sys
import uuid

import pytest

from desktop_app import cli
from desktop_app.core.inspector import Inspector


@pytest.fixture
def project(tmp_path):
    """A project module with its own SQLite Huey and one task, and the --huey args."""
    name = f"proj_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "from huey import SqliteHuey\n"
        f"huey = SqliteHuey('proj', filename={str(tmp_path / 'q.db')!r})\n"
        "@huey.task()\ndef add(a, b):\n    return a + b\n"
    )
    (tmp_path / "q.db").touch()
    args = ["--huey", f"{name}:huey", "--path", str(tmp_path)]
    yield args, lambda: sys.modules[name]
    module = sys.modules.pop(name, None)
    if module is not None:
        module.huey.storage.close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_prefix_of_a_task_the_project_enqueued_itself(project, capsys):
    args, module = project
    assert run(capsys, "status", *args)[0] == 0
    task_id = module().add(1, 2).id  # plain Huey: no Huey Desk involved
    code, out, err = run(capsys, "show", task_id[:8], *args)
    assert code == 0, err
    assert out.startswith(task_id)
    code, out, err = run(capsys, "revoke", task_id[:8], *args)
    assert (code, out.strip()) == (0, task_id), err
    assert module().huey.is_revoked(task_id)


@pytest.mark.parametrize("command", ["revoke", "restore", "run-now"])
def test_action_on_a_typo_is_refused_without_a_full_show(project, capsys, monkeypatch, command):
    args, module = project
    assert run(capsys, "status", *args)[0] == 0
    for i in range(3):
        module().add(i, i)

    def no_show(self, task_id):
        raise AssertionError("a full show() was run to refuse a typo")

    def no_scan(self, offset=0, limit=100):
        raise AssertionError("the queue was decoded to refuse a typo")

    monkeypatch.setattr(Inspector, "show", no_show)
    monkeypatch.setattr(Inspector, "pending", no_scan)
    monkeypatch.setattr(Inspector, "scheduled", no_scan)
    code, out, err = run(capsys, command, "zzzz", *args)
    assert code == 2, err
    assert err.strip() == "huey-desk: No task 'zzzz' in the queue, the results or the journal."
    assert out == ""


def test_stock_huey_consumer_result_shown_and_journalled(tmp_path):
    """The project's own huey_consumer (no Huey Desk hooks) runs a task: show reports the
    stored result and says why, and reconcile brings the journal up to date."""
    import signal
    import subprocess

    from desktop_app.core.paths import ensure_private_file
    from tests.helpers import ROOT, cli, cli_json, env_for, wait_until

    env = env_for(ensure_private_file(tmp_path / "queue.db"))
    task_id = cli_json(env, "submit", "send_email", "--args", "[7]", "--kwargs", '{"seconds": 0}')[
        "id"
    ]
    stock = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from huey.consumer import Consumer\nfrom tasks import huey\n"
            "Consumer(huey, workers=1, periodic=False, initial_delay=0.05).run()\n",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        info = wait_until(
            lambda: (i := cli_json(env, "show", task_id[:8]))["state"] == "complete" and i,
            what="show to report the stored result",
        )
    finally:
        stock.send_signal(signal.SIGINT)
        stock.wait(30)
    assert info["result"] == "sent 'Welcome aboard' to user 7"
    assert any("huey-desk consumer" in n for n in info["notes"])
    text = cli(env, "show", task_id).stdout
    assert "does not report to Huey Desk" in text
