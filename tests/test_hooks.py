"""The opt-in hooks make a stock ``huey_consumer`` report to the journal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import SqliteJournal
from desktop_app.core.paths import journal_path_for
from tests.helpers import ROOT, wait_until

pytestmark = pytest.mark.consumer

APP = textwrap.dedent(
    """
    import os
    from huey import SqliteHuey
    from desktop_app.hooks import install

    huey = SqliteHuey("stock", filename=os.environ["STOCK_DB"])

    @huey.task()
    def add(a, b):
        return a + b

    @huey.task()
    def fail():
        raise ValueError("no luck")

    install(huey)
    """
)


@pytest.fixture
def stock_app(tmp_path, monkeypatch):
    (tmp_path / "stockapp.py").write_text(APP)
    db = tmp_path / "stock.db"
    monkeypatch.setenv("STOCK_DB", str(db))
    monkeypatch.syspath_prepend(str(tmp_path))
    import stockapp

    yield stockapp
    stockapp.huey.storage.close()
    sys.modules.pop("stockapp", None)


def start_stock_consumer(tmp_path, workers: int = 2) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT), env.get("PYTHONPATH", "")])
    log = open(tmp_path / "consumer.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "huey.bin.huey_consumer", "stockapp.huey", "-w", str(workers)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_stock_consumer_reports_events_workers_and_its_stop(stock_app, tmp_path):
    huey = stock_app.huey
    journal = SqliteJournal(journal_path_for(huey))
    inspector = Inspector(huey, journal, "stockapp:huey")
    proc = start_stock_consumer(tmp_path)
    try:
        ok = stock_app.add(2, 3)
        bad = stock_app.fail()
        wait_until(
            lambda: (
                (journal.task(ok.id) or {}).get("state") == "complete"
                and (journal.task(bad.id) or {}).get("state") == "error"
            ),
            what="both tasks journalled as ended",
        )
        assert ok.get(blocking=True, timeout=10) == 5
        assert journal.task(ok.id)["result_preview"] == "5"
        assert "no luck" in journal.task(bad.id)["error"]
        workers = wait_until(
            lambda: [w for w in inspector.workers() if w["state"] in ("idle", "busy")],
            what="the stock consumer's workers beating",
        )
        assert len(workers) == 2
        assert {w["pid"] for w in workers} == {proc.pid}
    finally:
        stop(proc)
    consumers = journal.consumers()
    assert len(consumers) == 1
    assert consumers[0]["pid"] == proc.pid
    assert consumers[0]["stopped_at"] is not None
    assert {w["state"] for w in inspector.workers()} <= {"stopped"}
    journal.close()


def test_the_hooks_do_nothing_in_a_process_that_only_enqueues(stock_app):
    stock_app.add(1, 1)
    assert not journal_path_for(stock_app.huey).exists()


def test_the_hooks_stand_aside_in_huey_desk_consumer(stock_app, tmp_path):
    """``huey-desk consumer`` records everything itself: one set of events, not two."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT), env.get("PYTHONPATH", "")])
    log = open(tmp_path / "desk.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "consumer", "--huey", "stockapp:huey", "-w", "1"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    journal = SqliteJournal(journal_path_for(stock_app.huey))
    try:
        result = stock_app.add(4, 4)
        wait_until(
            lambda: (journal.task(result.id) or {}).get("state") == "complete",
            what="the task journalled",
        )
    finally:
        stop(proc)
    kinds = [e.kind for e in journal.events_for(result.id)]
    assert kinds.count("executing") == 1
    assert kinds.count("complete") == 1
    assert len(journal.consumers()) == 1
    journal.close()
