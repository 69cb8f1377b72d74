"""Signal hooks record each state of a task, with worker, duration, traceback, progress."""

from __future__ import annotations

import pytest

from desktop_app.core import progress
from desktop_app.core.journal import COMPLETE, ENQUEUED, ERROR, EXECUTING, PROGRESS, SqliteJournal
from desktop_app.core.recorder import Recorder, encode_call
from tests.helpers import wait_until


@pytest.fixture
def recorded(huey, tmp_path):
    """The test huey in immediate mode with a recorder writing from a thread."""
    path = tmp_path / "rec.sqlite"
    recorder = Recorder(huey, str(path), "consumer-1")
    recorder.install()
    huey.immediate = True
    journal = SqliteJournal(path)
    yield huey, recorder, journal
    recorder.uninstall()
    recorder.close()
    journal.close()
    huey.immediate = False


def test_complete_task_is_recorded(recorded):
    huey, recorder, journal = recorded
    result = huey.test_tasks["add"](2, b=3)
    recorder.flush()
    record = journal.task(result.id)
    assert record["state"] == COMPLETE
    assert record["args"] == [2] and record["kwargs"] == {"b": 3}
    assert record["result_preview"] == "5"
    assert record["duration"] is not None and record["consumer"] == "consumer-1"
    kinds = [e.kind for e in journal.events_for(result.id)]
    assert kinds == [ENQUEUED, EXECUTING, COMPLETE]


def test_error_is_recorded_with_traceback(recorded):
    huey, recorder, journal = recorded
    result = huey.test_tasks["boom"]("kaput")
    recorder.flush()
    record = journal.task(result.id)
    assert record["state"] == ERROR
    assert "RuntimeError('kaput')" in record["error"]
    assert "Traceback" in record["traceback"] and "kaput" in record["traceback"]


def test_progress_reaches_the_journal_only_inside_a_task(recorded):
    huey, recorder, journal = recorded

    @huey.task()
    def steps() -> None:
        for i in range(3):
            progress.report_progress((i + 1) / 3, f"step {i + 1}")
        progress.report_progress(float("nan"))  # ignored, never raises
        progress.report_progress("bad")  # type: ignore[arg-type]

    progress.report_progress(0.5, "outside any task")  # a no-op
    result = steps()
    recorder.flush()
    events = [e for e in journal.events_for(result.id) if e.kind == PROGRESS]
    assert [e.data["progress"] for e in events] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert journal.task(result.id)["progress_message"] == "step 3"


def test_report_progress_is_a_noop_without_a_consumer():
    heard = []
    progress.install(lambda fraction, message: heard.append((fraction, message)))
    progress.report_progress(0.25, "a consumer listens")
    assert heard == [(0.25, "a consumer listens")]
    progress.install(None)  # what the recorder does when it is uninstalled
    assert progress.report_progress(0.5, "nobody listens") is None  # returns, never raises
    assert heard == [(0.25, "a consumer listens")]  # the old sink hears nothing more


def test_report_progress_outside_a_task_records_nothing(recorded):
    _, recorder, journal = recorded
    before = journal.last_id()
    progress.report_progress(0.5, "in the consumer, but no task runs in this thread")
    recorder.flush()
    assert journal.last_id() == before


def test_large_or_odd_arguments_are_previewed_not_stored():
    fields = encode_call(("x" * 100_000,), {})
    assert fields["args_exact"] == 0 and "args" not in fields
    assert len(fields["args_preview"]) <= 200
    odd = encode_call((object(),), {})
    assert odd["args_exact"] == 0
    assert encode_call((), {}) == {"args_preview": "", "args": [], "kwargs": {}, "args_exact": 1}


def test_the_writer_process_gets_its_journal_on_stdin_never_on_its_command_line(tmp_path):
    import psutil

    from desktop_app.core.backends import JournalSpec
    from desktop_app.core.journal import NewEvent
    from desktop_app.core.journal_writer import WriterProcess

    spec = JournalSpec.sqlite(tmp_path / "secret-name.sqlite")
    writer = WriterProcess(spec)
    try:
        proc = psutil.Process(writer.process.pid)
        # right after the fork the child still shows this process's command line
        cmdline = wait_until(
            lambda: "journal_writer" in (text := " ".join(proc.cmdline())) and text,
            what="the writer process to exec",
        )
        assert "secret-name" not in cmdline and " - " in cmdline + " "
        writer.send(NewEvent(ENQUEUED, "t1", "app.job"))
    finally:
        assert writer.close()
    journal = SqliteJournal(tmp_path / "secret-name.sqlite")
    assert journal.task("t1")["state"] == ENQUEUED
    journal.close()


def test_a_journal_spec_round_trips_and_reopens(tmp_path):
    from desktop_app.core.backends import JournalSpec, journal_spec

    spec = JournalSpec.sqlite(tmp_path / "j.sqlite")
    assert JournalSpec.from_json(spec.to_json()) == spec
    journal = spec.open()
    assert isinstance(journal, SqliteJournal) and journal.location == str(tmp_path / "j.sqlite")
    journal.close()
    from huey import SqliteHuey

    huey = SqliteHuey("x", filename=str(tmp_path / "q.db"))
    assert journal_spec(huey, tmp_path / "o.sqlite").path == str(tmp_path / "o.sqlite")
