"""GUI test fixtures: settings kept in a temporary folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_settings(tmp_path, qapp):
    from PySide6.QtCore import QSettings

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield tmp_path / "settings"
