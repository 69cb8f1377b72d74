"""Loading a Huey target: every kind of bad ``--huey`` gets one plain sentence."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.core.errors import UserError
from desktop_app.core.target import load_target, parse_spec


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with small modules to import, removed from sys.modules afterwards."""
    (tmp_path / "good_app.py").write_text(
        "from huey import MemoryHuey\nhuey = MemoryHuey('good')\nother = 42\n"
        "@huey.task()\ndef hello(name: str) -> str:\n    return 'hi ' + name\n"
    )
    (tmp_path / "broken_app.py").write_text("import definitely_not_installed_xyz\n")
    (tmp_path / "raising_app.py").write_text("raise RuntimeError('config missing')\n")
    (tmp_path / "exiting_app.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "corrupt_db_app.py").write_text(
        "from huey import SqliteHuey\n"
        f"huey = SqliteHuey('x', filename={str(tmp_path / 'bad.db')!r})\n"
    )
    (tmp_path / "bad.db").write_bytes(b"this is not a sqlite database" * 100)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.endswith("_app"):
            del sys.modules[name]


def test_loads_with_path(project):
    target = load_target("good_app:huey", [str(project)])
    assert target.huey.name == "good"
    assert target.spec == "good_app:huey"


def test_attribute_defaults_to_huey(project):
    assert load_target("good_app", [str(project)]).attr == "huey"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_abc:huey", "No module named 'no_such_module_abc'"),
        ("broken_app:huey", "Importing 'broken_app' failed: ModuleNotFoundError"),
        ("raising_app:huey", "Importing 'raising_app' failed: RuntimeError: config missing"),
        ("exiting_app:huey", "Importing 'exiting_app' failed: SystemExit"),
        ("good_app:nothing", "has no attribute 'nothing'"),
        ("good_app:other", "is an int, not a Huey instance"),
        ("corrupt_db_app:huey", "cannot be opened (file is not a database); it is damaged"),
        ("", "--huey needs a value"),
        ("1abc:huey", "is not an import path"),
        ("good_app:not-valid", "is not an attribute name"),
    ],
)
def test_bad_targets_are_one_sentence(project, spec, message):
    with pytest.raises(UserError) as info:
        load_target(spec, [str(project)])
    text = str(info.value)
    assert message in text
    assert "\n" not in text


@given(st.text(max_size=40))
def test_any_spec_string_parses_or_is_refused(text):
    try:
        module, attr = parse_spec(text)
    except UserError as exc:
        assert str(exc)
    else:
        assert all(p.isidentifier() for p in module.split("."))
        assert all(p.isidentifier() for p in attr.split("."))


# -- what the command line says about --huey and --path (issue 14) ------------------------
def test_hueys_own_dotted_form_is_accepted(project):
    target = load_target("good_app.huey", [str(project)])
    assert target.spec == "good_app:huey" and target.huey.name == "good"
    with pytest.raises(UserError, match="'good_app' has no attribute 'nothing'"):
        load_target("good_app.nothing", [str(project)])


def test_a_module_its_own_imports_cannot_find_suggests_path(project):
    pkg = project / "proj_pkg_app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "config_xyz_app.py").write_text("from huey import MemoryHuey\nhuey = MemoryHuey('c')\n")
    (pkg / "tasks_app.py").write_text("from config_xyz_app import huey\n")
    with pytest.raises(UserError) as info:
        load_target("proj_pkg_app.tasks_app:huey", [str(project)])
    text = str(info.value)
    assert "No module named 'config_xyz_app'" in text and f"add --path {pkg}" in text
    assert "install" not in text


def test_a_path_that_is_not_a_folder_is_refused(project):
    with pytest.raises(UserError, match="--path /nonexistent/dir is not a folder"):
        load_target("good_app:huey", [str(project), "/nonexistent/dir"])


def test_a_module_message_ending_in_a_stop_gives_one_stop(project):
    (project / "stop_app.py").write_text("raise RuntimeError('config missing.')\n")
    with pytest.raises(UserError) as info:
        load_target("stop_app:huey", [str(project)])
    assert str(info.value) == "Importing 'stop_app' failed: RuntimeError: config missing."
