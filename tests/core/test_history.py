"""Task history windows: anchored pages, filters in the store, counts without scans."""

from __future__ import annotations

import sqlite3
import time

import pytest

from desktop_app.core.history import History, TaskQuery
from desktop_app.core.journal import (
    COMPLETE,
    ENQUEUED,
    ERROR,
    EXECUTING,
    FLUSHED,
    NewEvent,
    SqliteJournal,
)


def ev(kind, task_id, name="app.job", **data):
    return NewEvent(kind=kind, task_id=task_id, task_name=name, ts=time.time(), data=data)


@pytest.fixture
def filled(journal):
    """30 tasks: every third failed, the rest complete; task names alternate."""
    for i in range(30):
        name = "app.mail" if i % 2 else "app.resize"
        journal.append([ev(ENQUEUED, f"t{i:02d}", name, args_preview=f"user{i}")])
        journal.append([ev(EXECUTING, f"t{i:02d}", name)])
        if i % 3 == 0:
            journal.append([ev(ERROR, f"t{i:02d}", name, error=f"ValueError: Bad {i}")])
        else:
            journal.append([ev(COMPLETE, f"t{i:02d}", name, result_preview="'ok'")])
    return journal


def ids(rows):
    return [r["task_id"] for r in rows]


def test_pages_run_newest_first_from_either_end(filled):
    history = History(filled)
    window = history.open(TaskQuery(), page=10)
    assert window.total == 30
    assert ids(window.first) == [f"t{i:02d}" for i in range(29, 19, -1)]
    middle = history.page(TaskQuery(), window.anchor, 10, 10, window.total)
    assert ids(middle) == [f"t{i:02d}" for i in range(19, 9, -1)]
    # past half way the page is read from the oldest end: the same rows come back
    end = history.page(TaskQuery(), window.anchor, 25, 10, window.total)
    assert ids(end) == [f"t{i:02d}" for i in range(4, -1, -1)]
    assert end == history.page(TaskQuery(), window.anchor, 25, 10, None)


def test_the_anchor_keeps_rows_in_place_while_tasks_arrive(filled):
    history = History(filled)
    window = history.open(TaskQuery(), page=5)
    filled.append([ev(ENQUEUED, "new")])
    assert ids(history.page(TaskQuery(), window.anchor, 0, 5, window.total)) == ids(window.first)
    newer = history.open(TaskQuery(), page=1).first
    assert ids(newer) == ["new"] and newer[0]["seq"] > window.anchor


def test_filters_run_in_the_store_and_agree_with_live_matching(filled):
    history = History(filled)
    queries = [
        TaskQuery(state=ERROR),
        TaskQuery(task_name="app.mail"),
        TaskQuery(state=COMPLETE, task_name="app.resize"),
        TaskQuery(text="BAD 1"),  # ASCII case folded, like SQLite's LIKE
        TaskQuery(text="user2"),
        TaskQuery(text="t0"),
        TaskQuery(text="100%_\\"),  # LIKE's wildcards are taken literally
    ]
    every = history.open(TaskQuery(), page=100).first
    for query in queries:
        window = history.open(query, page=100)
        expected = [r for r in every if query.matches(r)]
        assert ids(window.first) == ids(expected), query
        assert history.count(query, window.anchor) == len(expected)
        if query.counted:
            assert window.total == len(expected)
        else:
            assert window.total == len(expected)  # the first page held them all
    assert ids(history.open(TaskQuery(state=ERROR), page=3).first) == ["t27", "t24", "t21"]
    assert history.open(TaskQuery(text="user"), page=3).total is None  # still to count


def test_state_counts_follow_every_change_without_a_scan(filled, tmp_path):
    assert filled.state_counts() == {COMPLETE: 20, ERROR: 10}
    filled.append([ev(ENQUEUED, "x1"), ev(ENQUEUED, "x2")])
    assert filled.state_counts()[ENQUEUED] == 2
    filled.append([NewEvent(kind=FLUSHED, data={"tasks": 2})])
    counts = filled.state_counts()
    assert ENQUEUED not in counts and counts["flushed"] == 2
    filled.prune(max_age_s=-1)  # drops every finished task
    assert filled.state_counts() == {}


def test_a_journal_from_before_the_counts_is_counted_on_open(tmp_path):
    path = tmp_path / "old.sqlite"
    journal = SqliteJournal(path)
    journal.append([ev(ENQUEUED, "a"), ev(ENQUEUED, "b"), ev(COMPLETE, "a")])
    journal.close()
    conn = sqlite3.connect(path)
    for name in ("task_counts_insert", "task_counts_update", "task_counts_delete"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE task_counts")
    conn.commit()
    conn.close()
    reopened = SqliteJournal(path)
    assert reopened.state_counts() == {ENQUEUED: 1, COMPLETE: 1}
    reopened.close()


def test_filter_text_sqlite_cannot_take_is_cleaned(filled):
    history = History(filled)
    for text in ("us\x00er1", "\ud800user1", "user1\udfff"):
        query = TaskQuery(text=text)
        window = history.open(query, page=100)
        every = history.open(TaskQuery(), page=100).first
        assert ids(window.first) == ids([r for r in every if query.matches(r)])


@pytest.mark.parametrize("order", ["state", "task_name", "duration", "error", "task_id"])
@pytest.mark.parametrize("descending", [True, False])
def test_sorted_pages_from_either_end_agree_with_a_sort(filled, order, descending):
    history = History(filled)
    everything = history.open(TaskQuery(), page=100).first
    query = TaskQuery(order=order, descending=descending)
    window = history.open(query, page=7)
    pages = [
        r
        for offset in range(0, window.total, 7)
        for r in history.page(query, window.anchor, offset, 7, window.total)
    ]
    ids_seen = ids(pages)
    assert sorted(ids_seen) == sorted(ids(everything)) and len(set(ids_seen)) == 30
    keys = [(r[order] is not None, r[order], r["seq"]) for r in pages]
    assert keys == sorted(keys, reverse=descending)
    assert not query.live and TaskQuery().live
    with pytest.raises(ValueError):
        TaskQuery(order="1; DROP TABLE tasks")


def test_since_keeps_tasks_that_reached_their_state_after_it(journal):
    journal.append(
        [
            NewEvent(COMPLETE, "old", "app.mail", ts=100.0),
            NewEvent(COMPLETE, "new", "app.mail", ts=200.0),
        ]
    )
    query = TaskQuery(since=150.0)
    window = History(journal).open(query)
    assert [r["task_id"] for r in window.first] == ["new"]
    assert query.matches({"state_ts": 200.0}) and not query.matches({"state_ts": 100.0})
