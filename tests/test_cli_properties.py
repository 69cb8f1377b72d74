"""Any text on the command line: ``huey-desk`` enqueues exactly what was meant, or exits
with 2 and one line on stderr, and a refused command leaves nothing in the queue."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.cli import main
from desktop_app.core.safe_decode import decode_message

TARGET = ("--huey", "tests.targets.props:huey")
FAST = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
wild_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def huey(tmp_path_factory):
    os.environ["HUEY_DESK_PROPS_DB"] = str(tmp_path_factory.mktemp("cli-props") / "q.db")
    from tests.targets.props import huey

    yield huey
    huey.storage.close()
    del sys.modules["tests.targets.props"]
    os.environ.pop("HUEY_DESK_PROPS_DB")


def messages(huey):
    rows = huey.storage.sql(
        "SELECT data FROM task UNION ALL SELECT data FROM schedule", results=True
    )
    return [decode_message(huey.serializer, r[0]) for r in rows]


def run(huey, *argv: str) -> tuple[int, str, str, list]:
    """``huey-desk ARGV`` in this process on an empty queue: code, stdout, stderr, queue."""
    huey.storage.flush_queue()
    huey.storage.flush_schedule()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's own refusals
            code = exc.code
    found = messages(huey)
    assert "Traceback" not in err.getvalue()
    if code == 0:
        assert len(found) == 1 and found[0].ok, found
        assert found[0].id in out.getvalue()
    else:
        assert code == 2, (argv, err.getvalue())
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
        assert found == []
    return code, out.getvalue(), err.getvalue(), found


def loads(text: str):
    def refuse(name):
        raise ValueError(name)

    return json.loads(text, parse_constant=refuse)


@FAST
@given(
    text=json_values.map(lambda v: json.dumps([v]))
    | json_values.map(json.dumps)
    | wild_text
    | st.sampled_from(["[NaN]", "[Infinity]", "[1e999]", "[", "[]", "[1, 2]", '["\\ud800"]'])
)
def test_any_args_text(huey, text):
    code, _, _, found = run(huey, "submit", "echo", "--args", text, *TARGET)
    try:
        value = loads(text)
        expected = isinstance(value, list) and len(value) == 1 and text.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        expected = False
    assert (code == 0) == bool(expected), (text, code)
    if code == 0:
        got = found[0].args[0]
        want = value[0]
        if isinstance(want, float) and math.isinf(want):
            assert got == want
        else:
            assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


@FAST
@given(
    n=json_values | st.integers(),
    when=st.dates().map(dt.date.isoformat) | wild_text | json_values,
    ratio=st.none() | json_values | st.floats(allow_nan=False),
)
def test_any_typed_kwargs(huey, n, when, ratio):
    kwargs = {"n": n, "when": when}
    if ratio is not None:
        kwargs["ratio"] = ratio
    code, _, _, found = run(huey, "submit", "typed", "--kwargs", json.dumps(kwargs), *TARGET)
    if code != 0:
        return
    got = found[0].kwargs
    assert got["n"] == n and type(got["n"]) is int
    assert got["when"] == dt.date.fromisoformat(when)
    if ratio is not None:
        assert got["ratio"] == float(ratio) and type(got["ratio"]) is float


@FAST
@given(
    option=st.sampled_from(["--delay", "--eta", "--priority"]),
    text=wild_text
    | st.floats().map(str)
    | st.integers().map(str)
    | st.datetimes().map(dt.datetime.isoformat)
    | st.sampled_from(["1e400", "-0", "nan", "inf", "3600", "2030-01-01T00:00+05:00"]),
)
def test_any_delay_eta_or_priority_text(huey, option, text):
    code, _, _, found = run(huey, "submit", "echo", "--args", "[1]", option, text, *TARGET)
    if code == 0 and option == "--priority":
        assert found[0].priority == float(text)
    if code == 0 and option != "--priority":
        assert found[0].eta is not None


@FAST
@given(text=wild_text)
def test_any_huey_text_is_refused_in_one_line(huey, text):
    spec = "zz" + text  # never a real module: nothing is imported by chance
    proc = run(huey, "status", "--huey", spec)
    assert proc[0] == 2


@FAST
@given(command=st.sampled_from(["show", "retry", "revoke", "restore", "run-now"]), text=wild_text)
def test_any_task_id_text(huey, command, text):
    if text.startswith("-"):
        text = "x" + text  # an option, not an id: argparse's business
    code, _, err, _ = run(huey, command, text, *TARGET)
    assert code == 2, err  # no such task: refused, never revoked in advance
