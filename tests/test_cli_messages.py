"""What the command line says to a user's mistake: one plain sentence, in words, that
ends in exactly one full stop, and the label users read in the text output."""

from __future__ import annotations

import sys
import uuid

import pytest

from desktop_app import cli
from desktop_app.core.paths import ensure_private_file


@pytest.fixture
def project(tmp_path):
    """A project with a SQLite Huey and no tasks imported (a config module)."""
    name = f"cfg_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "from huey import SqliteHuey\n"
        f"huey = SqliteHuey('cfg', filename={str(ensure_private_file(tmp_path / 'q.db'))!r})\n"
    )
    (tmp_path / f"{name}_broken.py").write_text("raise ValueError('Bad settings.')\n")
    yield name, tmp_path
    for module in [m for m in sys.modules if m.startswith(name)]:
        huey = getattr(sys.modules.pop(module), "huey", None)
        if huey is not None:
            huey.storage.close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_invalid_json_is_said_in_words(capsys):
    code, _, err = run(capsys, "submit", "send_email", "--args", "[42")
    assert code == 2
    assert err == (
        "huey-desk: --args is not valid JSON: a ',' or ']' is missing after 42 (character 4).\n"
    )
    _, _, err = run(capsys, "submit", "send_email", "--kwargs", '{"user_id": 1')
    assert "a ',' or '}' is missing after 1 (character 14)" in err
    _, _, err = run(capsys, "submit", "send_email", "--kwargs", "{user_id: 1}")
    assert "a key in double quotes is expected (character 2)" in err
    assert "line 1 column" not in err


def test_tasks_of_an_instance_with_none_registered_says_why(project, capsys):
    name, folder = project
    code, out, err = run(capsys, "tasks", "--huey", f"{name}:huey", "--path", str(folder))
    assert code == 0, err
    assert f"No tasks are registered with {name}:huey" in out
    assert "attach to the module that imports them" in out


def test_bad_input_messages_end_in_one_stop(project, capsys, tmp_path):
    name, folder = project
    target = ("--path", str(folder))
    commands = [
        ["submit", "send_email", "--args", "[42"],
        ["submit", "send_email", "--args", "[NaN]"],
        ["submit", "nope"],
        ["submit", "send_email", "--args", '["x"]'],
        ["submit", "noop", "--eta", "soon"],
        ["status", "--huey", f"{name}_broken:huey", *target],
        ["status", "--huey", f"{name}:nothing", *target],
        ["status", "--huey", "no_such_module_q:huey"],
        ["status", "--path", str(tmp_path / "missing")],
        ["show", "zzzzzzzz", "--huey", f"{name}:huey", *target],
        ["restore", "zzzz", "--huey", f"{name}:huey", *target],
    ]
    for command in commands:
        code, _, err = run(capsys, *command)
        assert code == 2, (command, err)
        line = err.strip()
        assert "\n" not in line and line.endswith("."), (command, err)
        assert not line.endswith(".."), (command, err)
    _, _, err = run(capsys, "status", "--huey", f"{name}_broken:huey", *target)
    assert err.strip().endswith("ValueError: Bad settings.")


def test_text_output_uses_the_words_users_read(project, capsys):
    name, folder = project
    target = ("--huey", f"{name}:huey", "--path", str(folder))
    assert run(capsys, "status", *target)[0] == 0
    module = sys.modules[name]
    module.huey.put_result("cafe0001-done", 1)
    code, out, err = run(capsys, "show", "cafe0001", *target)
    assert code == 0, err
    assert out.splitlines()[0].endswith("  done")  # the label, not "complete"
    code, out, _ = run(capsys, "status", *target)
    assert "finished: done 0  failed 0" in out
    _, out, _ = run(capsys, "show", "cafe0001", *target, "--json")
    assert '"state": "complete"' in out  # JSON keeps the stored names
