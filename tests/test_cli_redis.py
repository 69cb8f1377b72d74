"""The command line on a Redis-backed Huey: the journal in Redis, and faults as sentences."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from tests import redis_server as _redis
from tests.helpers import ROOT, cli

redis_server = _redis.redis_server
redis_url = _redis.redis_url

APP = textwrap.dedent(
    """
    import os
    from huey import RedisHuey

    huey = RedisHuey("deskapp", url=os.environ["DESK_REDIS_URL"])

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b
    """
)


@pytest.fixture
def app(tmp_path):
    (tmp_path / "deskredisapp.py").write_text(APP)
    return tmp_path


def env_with(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DESK_REDIS_URL"] = url
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("HUEY_DESK_JOURNAL", None)
    return env


def run(env, app, *args):
    return cli(env, *args, "--huey", "deskredisapp:huey", "--path", str(app))


def test_submit_status_and_show_use_the_journal_in_redis(app, redis_url):
    env = env_with(redis_url)
    submitted = run(env, app, "submit", "add", "--args", "[1, 2]", "--json")
    assert submitted.returncode == 0, submitted.stderr
    task_id = json.loads(submitted.stdout)["id"]
    status = run(env, app, "status", "--json")
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["pending"] == 1
    assert "keys huey-desk:{deskapp}:" in info["journal"]
    assert info["states"] == {"enqueued": 1}
    shown = run(env, app, "show", task_id[:8], "--json")  # a prefix, found in Redis
    assert shown.returncode == 0, shown.stderr
    task = json.loads(shown.stdout)
    assert task["id"] == task_id and task["state"] == "enqueued"
    assert task["queued"]["args"] == "1, 2"
    assert [e["kind"] for e in task["events"]] == ["enqueued"]
    # nothing was written beside a SQLite file
    assert not list(app.glob("*.desk-journal"))


def test_redis_not_running_is_one_sentence(app, tmp_path):
    env = env_with(f"unix://{tmp_path}/no-such.sock?db=0")
    for args in (("status",), ("submit", "add", "--args", "[1, 2]"), ("show", "abcdef12")):
        proc = run(env, app, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Cannot reach Redis for the queue 'deskapp' at unix://" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_a_wrong_password_is_one_sentence_and_never_printed(app, redis_url):
    import redis

    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(
        "desk", enabled=True, passwords=["+right-one"], keys=["*"], commands=["+@all"]
    )
    try:
        socket = redis_url.split("://", 1)[1].split("?", 1)[0]
        env = env_with(f"unix://desk:wrong-secret@{socket}?db=0")
        proc = run(env, app, "status")
        assert proc.returncode == 2
        assert "refused the connection's password" in proc.stderr
        assert "wrong-secret" not in proc.stderr
        good = run(env_with(f"unix://desk:right-one@{socket}?db=0"), app, "status", "--json")
        assert good.returncode == 0, good.stderr
        assert "right-one" not in good.stdout
    finally:
        admin.acl_deluser("desk")
        admin.close()


def test_attach_by_url_without_project_code(app, redis_url):
    env = env_with(redis_url)
    done = run(env, app, "submit", "add", "--args", "[2, 3]", "--json")
    task_id = json.loads(done.stdout)["id"]
    # no --huey: the queue is found by its URL and name, its messages decoded safely
    status = cli(env, "status", "--json", "--redis", redis_url, "--name", "deskapp")
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["pending"] == 1 and info["target"] == "redis:deskapp"
    shown = cli(env, "show", task_id, "--json", "--redis", redis_url, "--name", "deskapp")
    assert json.loads(shown.stdout)["queued"]["args"] == "2, 3"
    revoked = cli(env, "revoke", task_id, "--redis", redis_url, "--name", "deskapp")
    assert revoked.returncode == 0, revoked.stderr
    # running tasks needs them: refused in a sentence
    consumer = cli(env, "consumer", "--redis", redis_url, "--name", "deskapp")
    assert consumer.returncode == 2 and "needs their module: use --huey" in consumer.stderr
    submit = cli(env, "submit", "add", "--redis", redis_url, "--name", "deskapp")
    assert submit.returncode == 2 and "Traceback" not in submit.stderr


def test_a_url_with_a_password_is_never_echoed(tmp_path):
    env = env_with("redis://localhost:1/0")
    proc = cli(env, "status", "--redis", "http://user:hunter2@example:6379/0")
    assert proc.returncode == 2 and "hunter2" not in proc.stderr
    assert "is not a Redis URL" in proc.stderr
    proc = cli(env, "status", "--redis", f"unix://user:hunter2@{tmp_path}/none.sock?db=0")
    assert proc.returncode == 2 and "hunter2" not in proc.stderr
    assert "Cannot reach Redis" in proc.stderr
