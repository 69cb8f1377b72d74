"""Render docs/window-redis.png: the window on a Redis queue served by two machines.

As root on Linux (it needs ``unshare`` and ``redis-server``)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_redis_screenshot.py

A private redis-server on a Unix socket; two consumers, each in its own UTS and PID
namespace (hostnames machine-a and machine-b) with its own data folder; tasks for both;
then the window, watching from a third folder, is grabbed once both machines' workers
are busy and some tasks have ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
workdir = Path(tempfile.mkdtemp(prefix="huey-desk-redis-shot-"))
os.environ["HUEY_DESK_DATA"] = str(workdir / "watcher")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
UNSHARE = ["unshare", "--uts", "--pid", "--fork", "--mount-proc"]


def start_redis() -> tuple[subprocess.Popen, str]:
    from benchmarks.redis_journal import start_server

    return start_server(workdir)


def start_machine(name: str, url: str) -> subprocess.Popen:
    folder = workdir / name
    folder.mkdir()
    env = {**os.environ, "HUEY_DESK_DATA": str(folder), "HUEY_DESK_REDIS_URL": url}
    env["PYTHONPATH"] = str(ROOT)
    command = (
        f"hostname {name} && exec {sys.executable} -m desktop_app consumer "
        "--huey tests.targets.redis_app:huey --workers 2"
    )
    log = open(folder / "consumer.log", "ab")  # noqa: SIM115 - lives as long as the consumer
    return subprocess.Popen([*UNSHARE, "sh", "-c", command], env=env, cwd=ROOT, stdout=log)


def main() -> int:
    import psutil
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.backends import journal_for
    from desktop_app.core.paths import mirror_path_for
    from desktop_app.core.target import load_redis_target
    from desktop_app.gui.app import Desk

    redis_proc, url = start_redis()
    os.environ["HUEY_DESK_REDIS_URL"] = url
    machines = [start_machine(n, url) for n in ("machine-a", "machine-b")]
    try:
        from tests.targets import redis_app

        QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(workdir))
        app = QApplication(sys.argv[:1])
        target = load_redis_target(url, "desk-redis")
        shared = journal_for(target.huey)
        deadline = time.monotonic() + 30
        while len(shared.live_consumers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # the machines' first beats, before work is given to them
        for i in range(12):
            redis_app.add(i, i)
        redis_app.chore(0.2, fail=True)
        for seconds in (40, 45, 50, 55):
            redis_app.chore(seconds)
        mirror = mirror_path_for(target.huey, shared.location)
        desk = Desk(target, str(mirror), start_consumer=False, shared=shared)
        desk.start()
        desk.window.resize(1400, 880)

        def shoot() -> None:
            model = desk.window.workers_model
            rows = [model.row(i) for i in range(model.rowCount())]
            busy = {w.get("host") for w in rows if w.get("state") == "busy"}
            if busy != {"machine-a", "machine-b"} and shoot.tries < 100:
                shoot.tries += 1
                QTimer.singleShot(200, shoot)
                return
            QTimer.singleShot(1500, finish)

        shoot.tries = 0  # type: ignore[attr-defined]

        def finish() -> None:
            out = HERE / "window-redis.png"
            desk.window.grab().save(str(out))
            print(f"wrote {out}")
            desk.shutdown()
            app.quit()

        QTimer.singleShot(1000, shoot)
        app.exec()
        shared.close()
    finally:
        for proc in machines:
            for child in psutil.Process(proc.pid).children():
                child.send_signal(signal.SIGKILL)
            proc.wait(30)
        redis_proc.terminate()
        redis_proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
