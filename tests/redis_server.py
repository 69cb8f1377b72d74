"""A real redis-server for the tests: one per session on a Unix socket, a clean DB per test.

Import the fixtures into a test module (``from tests.redis_server import redis_server,
redis_url``).  Without redis-server the tests that use them skip, except in CI
(``CI`` set), where they fail: CI installs redis-server and must run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

START_TIMEOUT_S = 10.0


@dataclass
class RedisServer:
    """A running redis-server: its socket, pid file, and the URL a client connects with."""

    socket: Path
    pidfile: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the Redis tests (.ci/run installs it)")
    pytest.skip(reason)


def _wait_ready(server: RedisServer, log: Path) -> None:
    """Poll PING until the server answers, bounded in time; fail with its log if not."""
    import redis

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.socket.exists():
            client = redis.Redis(unix_socket_path=str(server.socket))
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                pass
            finally:
                client.close()
        if time.monotonic() > deadline:
            text = log.read_text()[-2000:] if log.exists() else ""
            pytest.fail(f"redis-server did not answer PING in {START_TIMEOUT_S} s: {text}")
        time.sleep(0.01)  # bounded polling on a condition  # noqa: sleep-ok


def _stop(pidfile: Path) -> None:
    """SIGTERM the server, then wait (bounded) until it is gone; SIGKILL if it stays."""
    try:
        pid = int(pidfile.read_text())
        process = psutil.Process(pid)
    except (OSError, ValueError, psutil.NoSuchProcess):
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# Each test module that imports the fixture defines it anew, and pytest keeps one session
# fixture per definition: they share this one server, stopped when the last one ends.
_shared: dict[str, Any] = {"server": None, "users": 0}


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """redis-server without persistence on a private Unix socket, stopped at the end.

    It daemonizes (the launcher is reaped at once), so it is not a child of the test
    process: the leak guard, which runs before a fixture asked for by name, would
    otherwise take it for a process the first Redis test left running.
    """
    if _shared["server"] is None:
        _shared["server"] = _start(tmp_path_factory)
    _shared["users"] += 1
    try:
        yield _shared["server"]
    finally:
        _shared["users"] -= 1
        if _shared["users"] == 0:
            server, _shared["server"] = _shared["server"], None
            _stop(server.pidfile)


def _start(tmp_path_factory: pytest.TempPathFactory) -> RedisServer:
    exe = shutil.which("redis-server")
    if exe is None:
        _missing("redis-server is not installed (apt-get install redis-server)")
    try:
        import redis  # noqa: F401
    except ImportError:
        _missing("the redis package is not installed (pip install 'huey-desk[redis]')")
    folder = tmp_path_factory.mktemp("redis")
    log, socket, pidfile = folder / "redis.log", folder / "redis.sock", folder / "redis.pid"
    args = [exe, "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700"]
    args += ["--save", "", "--appendonly", "no", "--dir", str(folder), "--logfile", str(log)]
    args += ["--daemonize", "yes", "--pidfile", str(pidfile)]
    subprocess.run(args, stdin=subprocess.DEVNULL, check=True, timeout=START_TIMEOUT_S)
    server = RedisServer(socket, pidfile)
    try:
        _wait_ready(server, log)
    except BaseException:
        _stop(pidfile)
        raise
    return server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The server's URL, on a database emptied before the test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushdb()
    finally:
        client.close()
    yield redis_server.url
