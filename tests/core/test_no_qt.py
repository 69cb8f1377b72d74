"""The core and the tasks never import Qt: proved by import and by import-linter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import desktop_app.core
from tests.helpers import ROOT

BLOCK_QT = """
import sys
class BlockQt:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6', 'pytestqt'):
            raise ImportError('Qt is blocked in this test: ' + name)
sys.meta_path.insert(0, BlockQt())
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
assert not any(m.startswith(('PySide6', 'shiboken6')) for m in sys.modules)
print('ok')
"""


def core_modules() -> list[str]:
    """Every module of the core, sub-packages included."""
    return [
        m.name
        for m in pkgutil.walk_packages(desktop_app.core.__path__, prefix="desktop_app.core.")
    ]


def test_core_modules_include_sub_packages(tmp_path, monkeypatch):
    """A module in a sub-package of the core is checked too, not only top-level ones."""
    package = tmp_path / "corepkg"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "deep.py").write_text("")
    monkeypatch.setattr(desktop_app.core, "__path__", [str(package)])
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert "desktop_app.core.inner.deep" in core_modules()
    finally:
        sys.modules.pop("desktop_app.core.inner", None)


def test_core_and_tasks_import_with_qt_blocked():
    modules = [*core_modules(), "tasks", "desktop_app.cli"]
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_QT, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_command_line_runs_with_qt_blocked(tmp_path):
    code = BLOCK_QT.replace("print('ok')", "") + (
        "from desktop_app.cli import main\nsys.exit(main(['tasks', '--json']))\n"
    )
    (tmp_path / "q.db").touch()  # read-only commands refuse a queue that does not exist
    env = {"HUEY_DESK_DB": str(tmp_path / "q.db"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert '"send_email"' in proc.stdout


@pytest.mark.lint
def test_import_linter_contracts_hold():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command;"
            "sys.exit(lint_imports_command())",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 2 kept, 0 broken." in proc.stdout


def test_only_the_sqlite_side_opens_the_journals_connection():
    """Everything else goes through the ``Journal`` interface (so Redis can stand in)."""
    core = ROOT / "desktop_app"
    allowed = {"core/journal.py", "core/history.py", "core/search_index.py", "core/timeline.py"}
    offenders = [
        str(path.relative_to(core))
        for path in core.rglob("*.py")
        if str(path.relative_to(core)) not in allowed
        and ("._conn()" in path.read_text() or ".connection()" in path.read_text())
    ]
    assert offenders == []
