"""Before Qt starts on X11: the system libraries its xcb plugin needs, named when missing.

Without one of them Qt prints a page about platform plugins and aborts the process; here
the window refuses to start with one sentence naming the Debian packages to install.
"""

from __future__ import annotations

import ctypes
import os
import sys

# The libraries Qt 6's xcb platform plugin loads beyond libxcb itself, and the Debian (and
# Ubuntu) package each comes in.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-shape.so.0": "libxcb-shape0",
}


def uses_xcb(environ: dict[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Whether Qt will open the window through X11 (xcb) in this environment."""
    env = os.environ if environ is None else environ
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0] == "xcb"
    return platform.startswith("linux") and not env.get("WAYLAND_DISPLAY")


def missing_packages(libraries: dict[str, str] = XCB_LIBRARIES) -> list[str]:
    """The packages whose library cannot be loaded, in the order of ``libraries``."""
    missing = []
    for soname, package in libraries.items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(package)
    return missing


def xcb_problem(
    environ: dict[str, str] | None = None, libraries: dict[str, str] = XCB_LIBRARIES
) -> str | None:
    """One sentence saying what to install, or None when the window can start."""
    if not uses_xcb(environ):
        return None
    missing = missing_packages(libraries)
    if not missing:
        return None
    names = " ".join(missing)
    return (
        f"The window needs X11 libraries that are missing ({names}); install them, "
        f"with: sudo apt-get install {names} (on Wayland, set QT_QPA_PLATFORM=wayland instead)."
    )
