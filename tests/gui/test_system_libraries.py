"""The xcb libraries are checked before Qt starts: one sentence naming the packages."""

from __future__ import annotations

from desktop_app.gui.system_libraries import (
    XCB_LIBRARIES,
    missing_packages,
    uses_xcb,
    xcb_problem,
)


def test_xcb_is_what_qt_uses_on_linux_x11_unless_told_otherwise():
    assert uses_xcb({"DISPLAY": ":0"}, platform="linux")
    assert not uses_xcb({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, platform="linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb:nograb"}, platform="linux")
    assert not uses_xcb({}, platform="darwin")


def test_a_missing_library_is_named_by_its_package():
    libraries = {"libxcb-does-not-exist.so.9": "libxcb-nothing9", **XCB_LIBRARIES}
    assert missing_packages(libraries)[0] == "libxcb-nothing9"
    problem = xcb_problem({"QT_QPA_PLATFORM": "xcb"}, libraries)
    assert problem is not None
    assert "apt-get install libxcb-nothing9" in problem
    assert problem.endswith(".") and "\n" not in problem  # one sentence


def test_nothing_to_say_when_the_libraries_load_or_xcb_is_not_used():
    # this machine has the libraries (.ci/run installs them)
    assert xcb_problem({"QT_QPA_PLATFORM": "xcb"}) is None
    assert xcb_problem({"QT_QPA_PLATFORM": "offscreen"}, {"libnope.so.1": "nope"}) is None
