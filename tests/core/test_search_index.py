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


@pytest.fixture
def indexed(journal):
    add(journal, 0, 60)
    index = SearchIndex(SqliteJournal(journal.path), TEXT_COLUMNS)
    index.catch_up()
    while index.step(25):
        pass
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
    assert again.upto == 0
    assert answers(History(fresh, index_path(fresh.path))) == answers(History(fresh))
    again.close()
    fresh.close()
