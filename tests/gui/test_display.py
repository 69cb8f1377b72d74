"""On a real X display (Xvfb) with a tray host (trayer): the tray icon and a notification."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.display


@pytest.fixture
def x_display(tmp_path):
    if not (shutil.which("Xvfb") and shutil.which("trayer")):
        pytest.skip("needs Xvfb and trayer (installed by .ci/run)")
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        display = f":{pipe.readline().strip()}"
    env = {**os.environ, "DISPLAY": display}
    trayer = subprocess.Popen(
        [
            "trayer",
            "--edge",
            "top",
            "--align",
            "right",
            "--width",
            "10",
            "--height",
            "24",
            "--SetDockType",
            "true",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield env
    for proc in (trayer, xvfb):
        proc.terminate()
        proc.wait(10)


def test_tray_icon_and_notification_on_a_real_display(x_display, tmp_path):
    env = {**x_display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
    env.pop("QT_QPA_PLATFORMTHEME", None)
    shot = tmp_path / "screen.png"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "gui" / "tray_probe.py"), str(shot)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["available"] and result["tray"] and result["visible"]
    assert result["told"] == [["always_fail failed", "RuntimeError('boom')", "t-1"]]
    assert result["tooltip"] == "Huey Desk — 1 failed since you looked"
    assert result["shot"] and shot.stat().st_size > 1000
