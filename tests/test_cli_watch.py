"""`huey-desk watch`: alerts printed as they fire and clear, from a real queue and consumer."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

from desktop_app.core.alerts import Rules, save_rules
from tests.helpers import ROOT, Consumer, cli, env_for, wait_until


class Watcher:
    """A real ``huey-desk watch --json`` subprocess; its lines are read as they come."""

    def __init__(self, env):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "desktop_app", "watch", "--json", "--every", "0.1"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def seen(self, event, rule):
        return any(e["event"] == event and e["rule"] == rule for e in self.lines)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self._reader.join(timeout=5)
            self.proc.stdout.close()
            self.proc.stderr.close()


def test_watch_prints_each_alert_once_as_it_fires_and_clears(tmp_path):
    data = tmp_path / "data"
    env = env_for(tmp_path / "queue.db", HUEY_DESK_DATA=str(data))
    off = {f.name: False for f in Rules.__dataclass_fields__.values() if f.name.endswith("_on")}
    save_rules(
        Rules(
            **{**off, "deeper_on": True, "deeper_than": 2, "failures_on": True, "failures_n": 1}
        ),
        Path(data) / "alerts.json",
    )
    for _ in range(4):
        assert cli(env, "submit", "noop").returncode == 0
    watcher = Watcher(env)
    try:
        wait_until(lambda: watcher.seen("fired", "deeper"), what="the deep queue told")
        fired = [e for e in watcher.lines if e["rule"] == "deeper"]
        assert "4 tasks" in fired[0]["message"] and fired[0]["cleared_at"] is None
        for _ in range(2):
            assert cli(env, "submit", "always_fail", "--args", '["no"]').returncode == 0
        consumer = Consumer(env, "--workers", "2", "--no-periodic")
        try:
            wait_until(lambda: watcher.seen("cleared", "deeper"), what="the queue drained")
            wait_until(lambda: watcher.seen("fired", "failures"), what="two failures told")
        finally:
            consumer.stop()
        told = [(e["event"], e["rule"]) for e in watcher.lines]
        assert told.count(("fired", "deeper")) == 1  # once, however many looks it held
        assert told.count(("fired", "failures")) == 1
        assert (
            "2 tasks failed"
            in next(e for e in watcher.lines if e["rule"] == "failures")["message"]
        )
    finally:
        assert watcher.stop() == 0  # Ctrl+C: a clean end
