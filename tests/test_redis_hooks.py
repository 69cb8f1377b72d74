"""The opt-in hooks on a RedisHuey: a stock ``huey_consumer`` journals into Redis."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

from desktop_app.core.backends.redis.journal import RedisJournal
from desktop_app.core.journal import COMPLETE
from tests import redis_server as _redis
from tests.helpers import ROOT, run_python, wait_until
from tests.test_hooks import start_stock_consumer, stop

redis_server = _redis.redis_server
redis_url = _redis.redis_url

pytestmark = pytest.mark.consumer

APP = textwrap.dedent(
    """
    import os
    from huey import RedisHuey
    from desktop_app.hooks import install

    huey = RedisHuey("stock", url=os.environ["STOCK_REDIS"])

    @huey.task()
    def add(a, b):
        return a + b

    install(huey)
    """
)


def test_a_stock_consumer_with_the_hooks_journals_into_redis(tmp_path, redis_url, monkeypatch):
    (tmp_path / "stockapp.py").write_text(APP)
    monkeypatch.setenv("STOCK_REDIS", redis_url)
    journal = RedisJournal(url=redis_url, name="stock")
    proc = start_stock_consumer(tmp_path)
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
        done = run_python(
            env, "import json\nfrom stockapp import add\nprint(json.dumps([add(1, 2).id]))"
        )
        assert done.returncode == 0, done.stderr
        task_id = done.stdout.strip()[2:-2]
        wait_until(
            lambda: (journal.task(task_id) or {}).get("state") == COMPLETE,
            what="the stock consumer's task journalled complete in Redis",
        )
        [consumer] = journal.consumers()
        assert consumer["target"] == "stock consumer (desktop_app.hooks)"
        wait_until(lambda: journal.live_consumers(), what="its heartbeat")
    finally:
        stop(proc)
    wait_until(lambda: all(c["stopped_at"] for c in journal.consumers()), what="its stop")
    journal.close()
    sys.modules.pop("stockapp", None)
