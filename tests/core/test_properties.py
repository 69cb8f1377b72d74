"""Any input, any value: a submission either enqueues exactly what was meant or is refused
with one sentence, and a refused one leaves nothing in the queue."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import math
import sqlite3

import pytest
from huey.utils import normalize_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.core.dispatcher import Dispatcher, parse_eta
from desktop_app.core.errors import UserError
from desktop_app.core.inspector import Inspector
from desktop_app.core.journal import NewEvent, SqliteJournal
from desktop_app.core.safe_decode import decode_message
from desktop_app.core.target import load_target
from tests.core.conftest import make_huey

FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
# text with lone surrogates, control characters and NULs: what a terminal may paste
wild_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
# Lone surrogates (what Python makes of bytes that are not UTF-8) cannot reach SQLite:
# the command line refuses them (tests/test_cli_properties.py), the core is not asked.
utf8_text = wild_text.filter(lambda t: not any("\ud800" <= c <= "\udfff" for c in t))


@pytest.fixture(scope="module")
def queue(tmp_path_factory):
    """One Huey for the whole module (an example empties it first), with an ``echo``."""
    huey = make_huey(tmp_path_factory.mktemp("props") / "q.db")

    @huey.task()
    def echo(value):
        return value

    journal = SqliteJournal(tmp_path_factory.mktemp("props") / "journal.sqlite")
    yield huey, Dispatcher(huey, journal)
    journal.close()
    huey.storage.close()


def messages(huey):
    rows = huey.storage.sql(
        "SELECT data FROM task WHERE queue = ? UNION ALL SELECT data FROM schedule "
        "WHERE queue = ?",
        (huey.name, huey.name),
        results=True,
    )
    views = [decode_message(huey.serializer, r[0]) for r in rows]
    assert all(v.ok for v in views), [v.error for v in views]
    return views


def submit(queue, *args, **kwargs):
    """Submit on an empty queue: (task id or the refusal, the messages after)."""
    huey, dispatcher = queue
    huey.storage.flush_queue()
    huey.storage.flush_schedule()
    try:
        outcome = dispatcher.submit(*args, **kwargs)
    except UserError as exc:
        text = str(exc)
        assert text and "\n" not in text and "Traceback" not in text
        assert messages(huey) == []  # refused: nothing at all was enqueued
        return exc, []
    found = messages(huey)
    assert [m.id for m in found] == [outcome]  # exactly one message, the one reported
    return outcome, found


def same(a, b) -> bool:
    """Equal, and of the same JSON kind all the way down (True is not 1, 1 is not 1.0)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and type(a) is type(b)


@FAST
@given(value=json_values, as_keyword=st.booleans())
def test_an_untyped_parameter_gets_exactly_the_value(queue, value, as_keyword):
    args, kwargs = ([], {"value": value}) if as_keyword else ([value], {})
    outcome, found = submit(queue, "echo", args, kwargs)
    assert not isinstance(outcome, UserError), outcome
    (message,) = found
    got = message.kwargs["value"] if as_keyword else message.args[0]
    assert same(got, value)


@FAST
@given(args=st.lists(json_values, max_size=4), kwargs=st.dictionaries(wild_text, json_values))
def test_typed_varargs_convert_exactly_or_refuse(queue, args, kwargs):
    """gather(*items: float, **labels: str): numbers become floats, labels stay text."""
    outcome, found = submit(queue, "gather", args, kwargs)
    numbers = all(
        isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(float(a))
        for a in args
    )
    texts = all(isinstance(v, str) for v in kwargs.values())
    if not (numbers and texts):
        assert isinstance(outcome, UserError)
        return
    assert not isinstance(outcome, UserError), outcome
    (message,) = found
    assert message.args == tuple(float(a) for a in args)
    assert all(type(a) is float for a in message.args)
    assert message.kwargs == kwargs


@FAST
@given(args=st.lists(json_values, max_size=3), kwargs=st.dictionaries(wild_text, json_values))
def test_any_arguments_for_any_task_enqueue_once_or_refuse(queue, args, kwargs):
    for name in ("add", "paint", "boom", "with_context"):
        outcome, found = submit(queue, name, args, kwargs)
        if not isinstance(outcome, UserError):
            (message,) = found
            assert message.name.endswith("." + name)


@FAST
@given(text=st.text(st.characters(codec=None), min_size=0, max_size=200_000).map(lambda t: t * 3))
def test_huge_and_strange_text_arrives_unchanged(queue, text):
    outcome, found = submit(queue, "boom", [text])
    assert not isinstance(outcome, UserError)
    assert found[0].args == (text,)


def test_a_five_megabyte_argument_arrives_unchanged(queue):
    text = "ü" * (5 * 1024 * 1024)
    _, found = submit(queue, "echo", [text])
    assert found[0].args == (text,)


@pytest.mark.parametrize(("depth", "accepted"), [(60, True), (65, False), (100_000, False)])
def test_nesting_is_limited_not_fatal(queue, depth, accepted):
    value: list = []
    for _ in range(depth):
        value = [value]
    outcome, _ = submit(queue, "echo", [value])
    assert isinstance(outcome, UserError) != accepted
    if not accepted:
        assert "nested" in str(outcome)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers(queue, value):
    outcome, _ = submit(queue, "gather", [value])  # typed float: refused
    assert isinstance(outcome, UserError) and "finite" in str(outcome)
    outcome, found = submit(queue, "echo", [value])  # untyped: passed as given
    assert not isinstance(outcome, UserError)
    assert repr(found[0].args[0]) == repr(value)


@FAST
@given(text=wild_text)
def test_any_eta_text_schedules_exactly_or_is_refused(queue, text):
    huey, _ = queue
    outcome, found = submit(queue, "add", [1], eta=text)
    try:
        when = parse_eta(text)
        expected = normalize_time(eta=when, utc=huey.utc)
    except (UserError, ValueError, OverflowError):
        assert isinstance(outcome, UserError)
        return
    assert not isinstance(outcome, UserError), outcome
    assert found[0].eta == expected


@FAST
@given(
    when=st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.none() | st.timezones(),
    )
)
def test_any_datetime_as_an_eta_is_scheduled_at_that_instant(queue, when):
    outcome, found = submit(queue, "add", [1], eta=when.isoformat())
    if isinstance(outcome, UserError):
        assert "cannot be used" in str(outcome)  # outside what UTC can hold
        return
    assert found[0].eta == normalize_time(eta=dt.datetime.fromisoformat(when.isoformat()))


numbers = st.one_of(
    st.integers(),
    st.floats(),
    st.sampled_from([10**400, -(10**400), 0, -0.0, 1e15, 1e16, 315_360_000, 315_360_001]),
)


@FAST
@given(delay=numbers | st.booleans() | st.text(max_size=4) | st.none(), priority=numbers)
def test_any_delay_and_priority(queue, delay, priority):
    outcome, found = submit(queue, "add", [1], delay=delay, priority=priority)
    if isinstance(outcome, UserError):
        return
    (message,) = found
    assert message.priority == priority
    assert (message.eta is None) == (delay is None)


# -- --huey strings -----------------------------------------------------------------------
@FAST
@given(text=wild_text)
def test_any_huey_spec_is_loaded_or_refused_in_a_sentence(text):
    # prefixed, so that no real module is imported by accident (``antigravity``...)
    for spec in (text, "zz_not_a_module_" + text, "zz_not_a_module:" + text):
        if spec == text and not spec.startswith("zz"):
            spec = "zz" + spec
        with pytest.raises(UserError) as info:
            load_target(spec)
        assert "\n" not in str(info.value)


# -- searching the journal --------------------------------------------------------------
@pytest.fixture(scope="module")
def ids_journal(tmp_path_factory):
    journal = SqliteJournal(tmp_path_factory.mktemp("search") / "journal.sqlite")
    names = ["abc%def", "abc_def", "abc\\def", "ABCdef", "zzz", "é-ü", "a'b\"c", "100%"]
    journal.append([NewEvent("enqueued", name, "t.add") for name in names])
    yield journal, names
    journal.close()


@FAST
@given(prefix=utf8_text)
def test_id_prefix_search_matches_literally(ids_journal, prefix):
    journal, names = ids_journal
    found = journal.find_tasks(prefix, limit=100)
    # SQLite LIKE folds ASCII case only, and % _ \\ are literal here
    expected = {n for n in names if n.lower().startswith(prefix.lower()) and prefix.isascii()}
    assert set(found) >= expected
    assert all(f.lower().startswith(prefix.lower()) or not prefix.isascii() for f in found)


@FAST
@given(text=utf8_text)
def test_show_resolves_any_id_text_or_refuses(queue, ids_journal, text):
    huey, _ = queue
    journal, _ = ids_journal
    inspector = Inspector(huey, journal)
    try:
        info = inspector.show(text)
    except UserError as exc:
        assert "\n" not in str(exc)
    else:
        assert info["id"]


def filter_table(history):
    conn = sqlite3.connect(":memory:")
    columns = history.TEXT_COLUMNS
    conn.execute(f"CREATE TABLE tasks (rowid_ INTEGER PRIMARY KEY, {', '.join(columns)})")
    rows = [
        dict.fromkeys(columns, value)
        for value in ("50% off", "a_b", "back\\slash", "MiXeD", "ünïcode", "", None, "x'y")
    ]
    for row in rows:
        conn.execute(
            f"INSERT INTO tasks ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [row[c] for c in columns],
        )
    return conn, rows


def filter_agrees(history, conn, rows, text) -> None:
    query = history.TaskQuery(text=text)
    where, args = query.where()
    got = conn.execute(f"SELECT count(*) FROM tasks WHERE {where}", args).fetchone()[0]
    assert got == sum(1 for r in rows if query.matches(r)), text


def test_task_filter_text_agrees_with_its_sql():
    """The tasks table's free-text filter: the SQL and the live-row test agree."""
    history = importlib.import_module("desktop_app.core.history")
    conn, rows = filter_table(history)

    @settings(max_examples=150, deadline=None)
    @given(text=st.text(max_size=40) | st.sampled_from(["%", "_", "\\", "mixed", "Ü", "'", "50%"]))
    def agree(text):
        filter_agrees(history, conn, rows, text)

    agree()
    conn.close()


def test_task_filter_text_with_a_nul_or_a_lone_surrogate_agrees_with_its_sql():
    history = importlib.import_module("desktop_app.core.history")
    conn, rows = filter_table(history)
    try:
        for text in ("\0", "a\0b", "\ud800", "x\udfffy"):
            filter_agrees(history, conn, rows, text)
    finally:
        conn.close()
