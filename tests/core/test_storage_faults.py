"""Storage faults: a lock held by another process, missing, damaged, unwritable and full
queues.  Each is either survived or refused with one sentence, and no queued job is lost."""

from __future__ import annotations

import sqlite3
import stat
import sys
import uuid

import pytest

from desktop_app.core.dispatcher import Dispatcher
from desktop_app.core.errors import QueueBusyError, UserError
from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import SqliteJournal
from desktop_app.core.paths import ensure_private_file
from desktop_app.core.safe_decode import decode_message
from desktop_app.core.storage_errors import QueueFileError
from desktop_app.core.target import load_target
from tests.core.conftest import make_huey
from tests.fault_helpers import Locker, damage, read_only
from tests.targets.full import FullStorage


def queued_args(huey) -> list[tuple]:
    """The decoded arguments of every pending message, in queue order."""
    rows = huey.storage.sql(
        "SELECT data FROM task WHERE queue = ? ORDER BY id", (huey.name,), results=True
    )
    views = [decode_message(huey.serializer, r[0]) for r in rows]
    assert all(v.ok for v in views), [v.error for v in views]
    return [v.args for v in views]


def module_for(tmp_path, body: str) -> str:
    """A uniquely named module in ``tmp_path`` whose source is ``body``; returns its name."""
    name = f"faulty_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(body)
    return name


@pytest.fixture
def modules(tmp_path):
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("faulty_"):
            del sys.modules[name]


def one_sentence(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


# -- a lock held by another process -----------------------------------------------------
def test_lock_held_by_another_process_is_retried_and_submits_once(tmp_path, journal):
    db = tmp_path / "q.db"
    huey = make_huey(db, timeout=0.05)
    heard: list[str] = []
    with Locker(db) as locker:

        def on_busy(sentence: str) -> None:
            heard.append(sentence)
            locker.release()  # the other process lets go while we wait

        task_id = Dispatcher(huey, journal, on_busy=on_busy).submit("add", [1])
    assert heard and "busy" in heard[0] and str(db) in heard[0]
    assert queued_args(huey) == [(1,)]
    assert journal.task(task_id)["state"] == "enqueued"
    huey.storage.close()


def test_lock_held_past_every_retry_is_busy_and_writes_nothing(tmp_path, journal):
    db = tmp_path / "q.db"
    huey = make_huey(db, timeout=0.05)
    dispatcher = Dispatcher(huey, journal)
    first = dispatcher.submit("add", [1])
    heard: list[str] = []
    dispatcher.on_busy = heard.append
    with Locker(db), pytest.raises(QueueBusyError) as info:
        dispatcher.submit("add", [2])
    assert "busy" in one_sentence(info.value) and str(db) in str(info.value)
    assert len(heard) == 5  # every retry was announced
    assert queued_args(huey) == [(1,)]  # the earlier job is there, nothing half-written
    assert journal.state_counts() == {"enqueued": 1} and journal.task(first)
    huey.storage.close()


def test_queue_locked_while_the_target_loads_is_retried(modules, monkeypatch):
    db = modules / "q.db"
    make_huey(db).storage.close()
    name = module_for(
        modules,
        "from huey import SqliteHuey\n"
        f"huey = SqliteHuey('x', filename={str(db)!r}, timeout=0.05)\n",
    )
    monkeypatch.syspath_prepend(str(modules))
    heard: list[str] = []
    with Locker(db) as locker:

        def on_busy(sentence: str) -> None:
            heard.append(sentence)
            locker.release()

        target = load_target(f"{name}:huey", on_busy=on_busy)
    assert heard and "retrying" in heard[0]
    target.huey.storage.close()
    other = module_for(modules, (modules / f"{name}.py").read_text())
    with Locker(db), pytest.raises(QueueBusyError, match="busy"):
        load_target(f"{other}:huey", busy_retries=1)


def test_reads_go_on_while_another_process_holds_the_write_lock(huey, journal):
    Dispatcher(huey, journal).submit("add", [1])
    with Locker(huey.storage.filename):
        status = Inspector(huey, journal).status()  # WAL: readers are not blocked
    assert status["pending"] == 1


# -- missing, damaged, not a database ---------------------------------------------------
def test_missing_queue_and_folders_are_created_private(tmp_path):
    db = tmp_path / "new" / "deeper" / "q.db"
    ensure_private_file(db)
    huey = make_huey(db)
    Dispatcher(huey).submit("add", [5])
    assert queued_args(huey) == [(5,)]
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    huey.storage.close()


def test_not_a_sqlite_file_names_the_file(modules, monkeypatch):
    bad = modules / "garbage.db"
    bad.write_bytes(b"\x00\xffnot sqlite at all" * 500)
    name = module_for(
        modules, f"from huey import SqliteHuey\nhuey = SqliteHuey('x', filename={str(bad)!r})\n"
    )
    monkeypatch.syspath_prepend(str(modules))
    with pytest.raises(QueueFileError) as info:
        load_target(f"{name}:huey")
    text = one_sentence(info.value)
    assert str(bad) in text and "not a database" in text
    assert info.value.path == str(bad)


def test_damaged_queue_is_explained_by_every_reader_and_writer(tmp_path, journal):
    db = tmp_path / "q.db"
    huey = make_huey(db)
    for i in range(200):
        Dispatcher(huey).submit("boom", ["x" * 400 + str(i)])
    huey.storage.close()
    damage(db)
    huey = make_huey(db)
    inspector, dispatcher = Inspector(huey, journal), Dispatcher(huey, journal)
    for call in (
        inspector.status,
        lambda: inspector.pending(0, 10),
        lambda: dispatcher.submit("add", [1]),
        dispatcher.flush,
    ):
        with pytest.raises(QueueFileError) as info:
            call()
        text = one_sentence(info.value)
        assert str(db) in text and "damaged" in text
    huey.storage.close()


def test_queue_path_that_is_a_folder_names_the_path(modules, monkeypatch):
    folder = modules / "i-am-a-folder.db"
    folder.mkdir()
    name = module_for(
        modules,
        f"from huey import SqliteHuey\nhuey = SqliteHuey('x', filename={str(folder)!r})\n",
    )
    monkeypatch.syspath_prepend(str(modules))
    with pytest.raises(QueueFileError) as info:
        load_target(f"{name}:huey")
    text = one_sentence(info.value)
    assert str(folder) in text and "cannot be opened" in text


# -- unwritable places ------------------------------------------------------------------
def test_new_queue_in_a_folder_that_cannot_be_written(modules, monkeypatch):
    folder = modules / "locked-folder"
    folder.mkdir()
    db = folder / "q.db"
    name = module_for(
        modules,
        "from huey import SqliteHuey\n"
        "from desktop_app.core.paths import ensure_private_file\n"
        f"huey = SqliteHuey('x', filename=str(ensure_private_file(__import__('pathlib')"
        f".Path({str(db)!r}))))\n",
    )
    monkeypatch.syspath_prepend(str(modules))
    with read_only(folder), pytest.raises(UserError) as info:
        load_target(f"{name}:huey")
    text = one_sentence(info.value)
    assert str(db) in text and "cannot be created" in text
    assert not db.exists()


def test_existing_queue_in_a_folder_that_cannot_be_written(modules, monkeypatch):
    folder = modules / "locked-folder"
    folder.mkdir()
    db = folder / "q.db"
    huey = make_huey(db)
    Dispatcher(huey).submit("add", [1])
    huey.storage.close()  # a clean close removes the -wal and -shm files
    name = module_for(
        modules, f"from huey import SqliteHuey\nhuey = SqliteHuey('x', filename={str(db)!r})\n"
    )
    monkeypatch.syspath_prepend(str(modules))
    with read_only(folder), pytest.raises(UserError) as info:
        load_target(f"{name}:huey")  # WAL needs its -shm file beside the queue
    assert str(db) in one_sentence(info.value)
    huey = make_huey(db)
    assert queued_args(huey) == [(1,)]
    huey.storage.close()


def test_read_only_queue_file_refuses_new_work_and_keeps_the_old(tmp_path, journal):
    db = tmp_path / "q.db"
    huey = make_huey(db)
    Dispatcher(huey, journal).submit("add", [1])
    Dispatcher(huey, journal).submit("add", [2])
    huey.storage.close()
    with read_only(db):
        huey = make_huey(db)
        assert Inspector(huey, journal).counts()["pending"] == 2
        with pytest.raises(UserError) as info:
            Dispatcher(huey, journal).submit("add", [3])
        text = one_sentence(info.value)
        assert "read-only" in text and str(db) in text
        huey.storage.close()
    huey = make_huey(db)
    assert queued_args(huey) == [(1,), (2,)]
    huey.storage.close()


# -- a full disk --------------------------------------------------------------------------
def test_full_disk_refuses_new_work_and_keeps_the_queue(tmp_path, journal, monkeypatch):
    db = tmp_path / "q.db"
    huey = make_huey(db)
    for i in range(3):
        Dispatcher(huey, journal).submit("gather", [i])
    huey.storage.close()
    # every connection of this storage may not grow the file (the limit is clamped to the
    # current size): to SQLite, the disk is full
    monkeypatch.setenv("HUEY_DESK_MAX_PAGES", "1")
    huey = make_huey(db, storage_class=FullStorage)
    dispatcher = Dispatcher(huey, journal)
    with pytest.raises(UserError) as info:
        dispatcher.submit("boom", ["x" * 200_000])
    text = one_sentence(info.value)
    assert "full" in text and str(db) in text
    assert queued_args(huey) == [(0.0,), (1.0,), (2.0,)]
    assert journal.state_counts() == {"enqueued": 3}  # the refused job was not journalled
    huey.storage.close()


def test_journal_that_cannot_be_created_is_one_sentence(tmp_path):
    folder = tmp_path / "journal-folder"
    folder.mkdir()
    with read_only(folder):
        journal = SqliteJournal(folder / "j.sqlite")
        with pytest.raises(UserError) as info:
            journal.state_counts()
    assert "journal" in one_sentence(info.value)


def test_damaged_journal_is_one_sentence_and_the_queue_is_untouched(tmp_path, huey):
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"not a journal" * 300)
    Dispatcher(huey, None).submit("add", [1])
    journal = SqliteJournal(path)
    with pytest.raises(UserError) as info:
        journal.state_counts()
    assert str(path) in one_sentence(info.value)
    # a submission with a broken journal still enqueues (the journal is only a record)
    Dispatcher(huey, journal).submit("add", [2])
    assert queued_args(huey) == [(1,), (2,)]


def test_sqlite_errors_nobody_can_act_on_are_not_swallowed(huey):
    from desktop_app.core.storage_errors import guarded

    def broken():
        raise sqlite3.ProgrammingError("a bug, not a fault of the disk")

    with pytest.raises(sqlite3.ProgrammingError):
        guarded(broken, "q.db")
