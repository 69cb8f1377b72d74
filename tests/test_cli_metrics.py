"""`huey-desk metrics`: Prometheus text over HTTP, checked against a run of known tasks."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests import redis_server as _redis
from tests.helpers import ROOT, Consumer, cli, env_for, wait_until
from tests.test_cli_redis import env_with

redis_server = _redis.redis_server
redis_url = _redis.redis_url


class Exporter:
    """A real ``huey-desk metrics --port 0`` subprocess, and the port it chose."""

    def __init__(self, env, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "desktop_app", "metrics", "--port", "0", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert "/metrics" in line, line + self.proc.stderr.read()
        self.url = line.split(" at ")[1].split()[0]
        assert self.url.startswith("http://127.0.0.1:")

    def scrape(self) -> dict[tuple[str, tuple], float]:
        with urllib.request.urlopen(self.url, timeout=10) as reply:
            text = reply.read().decode()
        return {
            (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "queue"))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()


def finished(got, task, state):
    return got.get(("huey_desk_tasks_finished_total", (("state", state), ("task", task))), 0)


def test_a_scrape_matches_a_run_of_known_tasks(tmp_path):
    env = env_for(tmp_path / "queue.db", HUEY_DESK_DATA=str(tmp_path / "data"))
    for _ in range(3):
        assert cli(env, "submit", "noop").returncode == 0
    exporter = Exporter(env)  # counts from now on; the three above are in the queue
    try:
        got = exporter.scrape()
        assert got[("huey_desk_queue_depth", (("where", "pending"),))] == 3
        assert got[("huey_desk_up", ())] == 1
        for _ in range(2):
            cli(env, "submit", "always_fail", "--args", '["no luck"]')
        consumer = Consumer(env, "--workers", "2", "--no-periodic")  # known tasks only
        try:

            def all_ended():
                now = exporter.scrape()
                ended = finished(now, "tasks.demo.noop", "done")
                return (
                    now
                    if ended == 3 and finished(now, "tasks.demo.always_fail", "failed") == 2
                    else None
                )

            got = wait_until(all_ended, what="five tasks to end")
            assert got[("huey_desk_queue_depth", (("where", "pending"),))] == 0
            assert (
                got[("huey_desk_task_duration_seconds_count", (("task", "tasks.demo.noop"),))] == 3
            )
            assert got[("huey_desk_queue_wait_seconds_count", (("task", "tasks.demo.noop"),))] == 3
            assert got[("huey_desk_tasks", (("state", "done"),))] == 3
            assert got[("huey_desk_tasks", (("state", "failed"),))] == 2
            workers = {k: v for k, v in got.items() if k[0] == "huey_desk_workers"}
            assert sum(workers.values()) == 2
            assert all(dict(labels)["state"] in ("idle", "busy") for _n, labels in workers)
            assert 0 <= got[("huey_desk_journal_lag_seconds", ())] < 10
        finally:
            consumer.stop()
    finally:
        assert exporter.stop() == 0  # Ctrl+C ends it cleanly


def test_a_port_in_use_is_one_sentence_and_exit_2(tmp_path):
    env = env_for(tmp_path / "queue.db", HUEY_DESK_DATA=str(tmp_path / "data"))
    assert cli(env, "submit", "noop").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = cli(env, "metrics", "--port", str(port))
    assert proc.returncode == 2
    assert proc.stderr.startswith("huey-desk: Cannot serve metrics on 127.0.0.1 port")
    assert "--port" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_metrics_of_a_redis_queue_without_its_project_code(tmp_path, redis_url):
    app = tmp_path / "app"
    app.mkdir()
    (app / "deskredisapp.py").write_text(
        "import os\nfrom huey import RedisHuey\n"
        'huey = RedisHuey("deskapp", url=os.environ["DESK_REDIS_URL"])\n'
        "@huey.task()\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    )
    env = env_with(redis_url)
    env["HUEY_DESK_DATA"] = str(tmp_path / "data")
    target = ("--huey", "deskredisapp:huey", "--path", str(app))
    for i in range(4):
        assert cli(env, "submit", "add", "--args", f"[{i}, 1]", *target).returncode == 0
    exporter = Exporter(env, "--redis", redis_url, "--name", "deskapp")
    try:
        got = exporter.scrape()
        assert got[("huey_desk_queue_depth", (("where", "pending"),))] == 4
        env["HUEY_DESK_DB"] = str(tmp_path / "unused.db")
        consumer = Consumer(env, "--workers", "1", *target)
        try:
            got = wait_until(
                lambda: (
                    (now := exporter.scrape())
                    and finished(now, "deskredisapp.add", "done") == 4
                    and now
                ),
                what="four tasks done, read from the journal in Redis",
            )
            assert got[("huey_desk_queue_depth", (("where", "pending"),))] == 0
            assert got[("huey_desk_tasks", (("state", "done"),))] == 4
        finally:
            consumer.stop()
    finally:
        assert exporter.stop() == 0
