"""The real Django test project (``tests/targets/djsite``) for the tests: real ``migrate``,
its settings picked by ``DJSITE_HUEY``, commands run against it in subprocesses.

Django is imported only in subprocesses: a process can set Django up once, and the rest
of the suite must not inherit its settings.  Import the fixtures into a test module
(``from tests.djsite import djsite, djsite_sqlite, djsite_redis``) with the Redis ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import redis_server as _redis
from tests.helpers import ROOT, Consumer, env_for

SITE = ROOT / "tests" / "targets" / "djsite"
SETTINGS = "djsite.settings"

redis_server = _redis.redis_server
redis_url = _redis.redis_url

pytest.importorskip("django", reason="the Django tests need Django (pip install -e '.[test]')")


@dataclass
class Site:
    """One copy of the test project's data (databases, queue) under a temporary folder."""

    env: dict[str, str]
    data: Path
    kind: str

    @property
    def target(self) -> list[str]:
        """The options that attach a command to the project."""
        return ["--django", SETTINGS, "--path", str(SITE)]

    def cli(self, command: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """``huey-desk COMMAND --django djsite.settings --path SITE ARGS``."""
        return subprocess.run(
            [sys.executable, "-m", "desktop_app", command, *self.target, *args],
            env=self.env,
            cwd=self.data,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def cli_json(self, command: str, *args: str) -> dict:
        proc = self.cli(command, *args, "--json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def manage(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """``./manage.py ARGS`` of the project."""
        return subprocess.run(
            [sys.executable, str(SITE / "manage.py"), *args],
            env=self.env,
            cwd=SITE,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def django(self, code: str) -> subprocess.CompletedProcess:
        """Run ``code`` in the project, after ``django.setup()`` and task discovery."""
        prelude = (
            "import django\ndjango.setup()\n"
            "from django.utils.module_loading import autodiscover_modules\n"
            "autodiscover_modules('tasks')\n"
        )
        return subprocess.run(
            [sys.executable, "-c", prelude + code],
            env=self.env,
            cwd=SITE,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def consumer(self, *args: str) -> Consumer:
        """A real ``huey-desk consumer --django ...`` subprocess."""
        return Consumer(self.env, *self.target, *args, cwd=self.data)


def make_site(
    tmp_path: Path, kind: str = "sqlite", redis_url: str | None = None, migrate: bool = True
) -> Site:
    """The project with ``DJSITE_HUEY=kind``, its database migrated (``manage.py migrate``)."""
    data = tmp_path / "site"
    data.mkdir(exist_ok=True)
    env = env_for(tmp_path / "default-queue.db", DJSITE_DATA=str(data), DJSITE_HUEY=kind)
    env["PYTHONPATH"] = str(SITE) + ":" + env["PYTHONPATH"]
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS  # for manage.py; huey-desk is given --django
    if redis_url:
        env["DJSITE_REDIS_URL"] = redis_url
    site = Site(env=env, data=data, kind=kind)
    if migrate:
        proc = site.manage("migrate", "--no-input")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return site


@pytest.fixture
def djsite_sqlite(tmp_path: Path) -> Site:
    return make_site(tmp_path, "sqlite")


@pytest.fixture
def djsite_redis(tmp_path: Path, redis_url: str) -> Site:
    return make_site(tmp_path, "redis", redis_url)


@pytest.fixture(params=["sqlite", "redis"])
def djsite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """The project on each storage its settings.HUEY can name: SQLite, then Redis."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    yield make_site(tmp_path, request.param, url)
