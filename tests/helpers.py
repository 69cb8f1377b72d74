"""Helpers shared by the tests: waiting on a condition, running the CLI, consumers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.02)  # the polling step of wait_until, not a guess  # noqa: sleep-ok


def env_for(db: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["HUEY_DESK_DB"] = str(db)
    env.pop("HUEY_DESK_JOURNAL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # else every command would open that project
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def cli(
    env: dict[str, str], *args: str, cwd: Path = ROOT, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run ``huey-desk ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_python(env: dict[str, str], code: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run a snippet of Python in a subprocess (a producer or a parent that knows nothing
    of Huey Desk)."""
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def cli_json(env: dict[str, str], *args: str, cwd: Path = ROOT) -> dict:
    proc = cli(env, *args, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


class Consumer:
    """A real ``huey-desk consumer`` subprocess."""

    def __init__(self, env: dict[str, str], *args: str, cwd: Path = ROOT) -> None:
        self.log = Path(env["HUEY_DESK_DB"]).with_suffix(".consumer.log")
        self._out = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "desktop_app", "consumer", *args],
            env=env,
            cwd=cwd,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.proc.returncode


def task_name(huey: Any, short: str) -> str:
    """The full registered name of the task ``short`` of ``huey``."""
    return next(n for n in huey._registry._registry if n.endswith("." + short))


def failed_tasks(
    journal: Any, name: str, n: int, ts: float, error: str = "it broke", start: int = 0
) -> list[str]:
    """Journal ``n`` tasks of ``name`` (arguments ``start``, ``start + 1``...) that ran
    and failed at ``ts``, as a consumer would have; their ids."""
    from desktop_app.core.journal import ENQUEUED, ERROR, EXECUTING, NewEvent
    from desktop_app.core.recorder import encode_call

    short = name.rsplit(".", 1)[-1]
    ids = [f"{short}-{start + i:05d}" for i in range(n)]
    events = []
    for i, task_id in enumerate(ids):
        call = encode_call((start + i,), {})
        events.append(NewEvent(ENQUEUED, task_id, name, ts=ts - 2, data=call))
        events.append(NewEvent(EXECUTING, task_id, name, ts=ts - 1))
        events.append(NewEvent(ERROR, task_id, name, ts=ts, data={"error": error}))
    journal.append(events)
    return ids
