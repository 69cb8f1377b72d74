"""The search index narrows a text filter but never changes its answer."""

from __future__ import annotations

import os
import stat
import time

import pytest

from desktop_app.core.history import TEXT_COLUMNS, History, TaskQuery
from desktop_app.core.journal import COMPLETE, ENQUEUED, ERROR, NewEvent, SqliteJournal
from desktop_app.core.search_index import SearchIndex, index_path


def ev(kind, task_id, **data):
    return NewEvent(kind=kind, task_id=task_id, task_name="app.mail", ts=time.time(), data=data)


def add(journal, first, count):
    for i in range(first, first + count):
        journal.append([ev(ENQUEUED, f"task-{i:03d}", args_preview=f"'user{i}@example.com'")])
        if i % 4 == 0:
            journal.append([ev(ERROR, f"task-{i:03d}", error=f"ValueError: Mailbox {i} full")])
        else:
            journal.append([ev(COMPLETE, f"task-{i:03d}", result_preview="'sent'")])


TEXTS = ("user1", "MAILBOX 1", "mailbox 12 full", "sent", "task-00", "nothing-like-it", "ü€x")


def answers(history, texts=TEXTS):
    out = {}
    for text in texts:
        query = TaskQuery(text=text)
        window = history.open(query, page=500)
        out[text] = (
            [r["task_id"] for r in window.first],
            history.count(query, window.anchor),
            [r["task_id"] for r in history.page(query, window.anchor, 3, 4, None)],
        )
    return out


def built_index(journal, tasks, step=25):
    """``tasks`` tasks in the journal and an index that has covered them all."""
    add(journal, 0, tasks)
    index = SearchIndex(SqliteJournal(journal.path), TEXT_COLUMNS)
    index.catch_up()
    while index.step(step):
        pass
    return index


@pytest.fixture
def indexed(journal):
    index = built_index(journal, 60)
    yield journal, index
    index.close()


def test_the_index_gives_the_same_answers_as_a_scan(indexed):
    journal, index = indexed
    scanned = answers(History(journal))
    assert scanned["user1"][1] == 11 and scanned["nothing-like-it"][1] == 0
    assert answers(History(journal, index.path)) == scanned
    mode = stat.S_IMODE(os.stat(index.path).st_mode)
    assert mode == 0o600


def test_tasks_beyond_the_index_and_changed_ones_are_still_found(indexed):
    journal, index = indexed
    add(journal, 60, 20)  # not indexed yet: scanned
    journal.append([ev(ERROR, "task-001", error="ValueError: Mailbox 12 full")])
    changed = journal.tasks_by_ids(["task-001"])
    with_index = History(journal, index.path)
    # its document is stale, but it changed after the index's last event: still found
    assert "task-001" in answers(with_index)["mailbox 12 full"][0]
    assert answers(with_index) == answers(History(journal))
    index.update(changed, journal.last_id())
    assert answers(with_index) == answers(History(journal))


def test_a_restart_catches_up_and_a_replaced_journal_starts_again(indexed, tmp_path):
    journal, index = indexed
    index.close()
    journal.append([ev(ERROR, "task-002", error="ValueError: Mailbox 12 full")])
    # before any catch-up, a search already sees the change
    assert "task-002" in answers(History(journal, index.path))["mailbox 12 full"][0]
    reopened = SearchIndex(SqliteJournal(journal.path), TEXT_COLUMNS)
    reopened.catch_up()  # the events written while no window was open
    assert answers(History(journal, reopened.path)) == answers(History(journal))
    reopened.close()
    # a new journal at the same place: the old documents must not be trusted
    journal.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(journal.path) + suffix):
            os.remove(str(journal.path) + suffix)
    fresh = SqliteJournal(journal.path)
    add(fresh, 0, 3)
    again = SearchIndex(SqliteJournal(fresh.path), TEXT_COLUMNS)
    again.catch_up()
    assert (again.low, again.high) == (4, 3)  # started again: nothing covered yet
    assert answers(History(fresh, index_path(fresh.path))) == answers(History(fresh))
    again.close()
    fresh.close()


def test_the_index_is_built_newest_first_and_answers_as_a_scan_at_every_step(journal):
    add(journal, 0, 60)
    index = SearchIndex(SqliteJournal(journal.path), TEXT_COLUMNS)
    index.catch_up()
    scanned = answers(History(journal))
    with_index = History(journal, index.path)
    assert index.step(10)
    assert (index.low, index.high) == (51, 60)  # the newest ten tasks
    assert answers(with_index) == scanned
    add(journal, 60, 5)  # made while it is being built: indexed next, before older ones
    scanned = answers(History(journal))
    assert index.step(10)
    assert (index.low, index.high) == (46, 65)
    assert answers(with_index) == scanned
    while index.step(7):
        assert answers(with_index) == scanned
    assert (index.low, index.high) == (1, 65)
    index.close()


def test_an_index_of_the_earlier_version_covers_its_first_tasks(journal):
    index = built_index(journal, 30, step=100)
    with index._txn():  # what an index built oldest first wrote: covered up to 20
        index._conn.execute("DELETE FROM meta WHERE key IN ('low', 'high')")
        index._conn.execute("DELETE FROM idx WHERE rowid > 20")
        index._set(upto=20)
    index.close()
    add(journal, 30, 5)
    scanned = answers(History(journal))
    assert answers(History(journal, index_path(journal.path))) == scanned
    again = SearchIndex(SqliteJournal(journal.path), TEXT_COLUMNS)
    assert (again.low, again.high) == (1, 20)
    again.catch_up()
    while again.step(4):
        pass
    assert (again.low, again.high) == (1, 35)
    assert answers(History(journal, again.path)) == scanned
    again.close()


def test_a_bounded_look_finds_the_newest_matches_and_says_how_far_it_looked(journal):
    add(journal, 0, 60)  # every fourth task failed: "Mailbox 8 full", "Mailbox 12 full"...
    plain = History(journal)
    query = TaskQuery(text="Mailbox 1")  # tasks 12, 16 and 10..19's errors: 12, 16
    whole = plain.open(query, page=50)
    assert not whole.partial and whole.total == len(whole.first)
    look = plain.open(query, page=50, bound=45)  # the newest 45 tasks: 16 to 60
    assert look.partial and look.total is None
    assert look.looked_from == 16 and (look.looked_at, look.tasks) == (45, 60)
    assert [r["task_id"] for r in look.first] == [
        r["task_id"] for r in whole.first if r["seq"] >= 16
    ]
    # a full first page, or a look that reached the oldest task, is the whole answer
    assert not plain.open(TaskQuery(text="sent"), page=10, bound=20).partial
    assert not plain.open(query, page=50, bound=60).partial
    # sorted, a page needs every match: the bound is not used
    assert not plain.open(TaskQuery(text="Mailbox 1", order="task_id"), page=50, bound=5).partial
    # with an index over the newest 20, the bound is spent below it
    index = SearchIndex(SqliteJournal(journal.path), TEXT_COLUMNS)
    index.catch_up()
    index.step(20)
    indexed = History(journal, index.path).open(query, page=50, bound=10)
    assert indexed.looked_from == 31 and indexed.looked_at == 30
    assert [r["task_id"] for r in indexed.first] == [
        r["task_id"] for r in whole.first if r["seq"] >= 31
    ]
    index.close()
