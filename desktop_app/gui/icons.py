"""Icons shipped in ``desktop_app.resources``, with the theme's icon preferred when present."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from PySide6.QtGui import QIcon, QPixmap


@cache
def icon(name: str = "huey-desk") -> QIcon:
    """The icon ``name`` (an SVG in resources/icons), or the theme's icon of that name."""
    data = files("desktop_app.resources").joinpath(f"icons/{name}.svg").read_bytes()
    pixmap = QPixmap()
    pixmap.loadFromData(data, "SVG")
    return QIcon.fromTheme(name, QIcon(pixmap))
