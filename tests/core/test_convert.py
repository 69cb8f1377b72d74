"""Arguments are checked against the signature and converted from JSON, or refused."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core.catalogue import Catalogue
from desktop_app.core.convert import ConversionError, bind_arguments, convert
from desktop_app.core.errors import UserError
from tests.core.conftest import Colour


@pytest.mark.parametrize(
    ("value", "annotation", "expected"),
    [
        (3, int, 3),
        (3.0, int, 3),
        (3, float, 3.0),
        ("2026-11-25", dt.date, dt.date(2026, 11, 25)),
        ("2026-11-25T10:30:00", dt.datetime, dt.datetime(2026, 11, 25, 10, 30)),
        ("12:30", dt.time, dt.time(12, 30)),
        (90, dt.timedelta, dt.timedelta(seconds=90)),
        ("1.10", Decimal, Decimal("1.10")),
        ("red", Colour, Colour.RED),
        ("GREEN", Colour, Colour.GREEN),
        (None, int | None, None),
        (5, int | None, 5),
        ([1, 2], list[int], [1, 2]),
        ([1, "a"], tuple[int, str], (1, "a")),
        ([1, 2, 2], set[int], {1, 2}),
        ({"a": 1}, dict[str, int], {"a": 1}),
        ({"any": [1]}, object, {"any": [1]}),
        (dt.date(2026, 1, 1), dt.date, dt.date(2026, 1, 1)),
    ],
)
def test_converts(value, annotation, expected):
    result = convert(value, annotation)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "annotation", "message"),
    [
        ("x", int, "whole number"),
        (True, int, "not true/false"),
        (1.5, int, "whole number"),
        (math.nan, float, "finite"),
        (1, bool, "true or false"),
        (1, str, "must be text"),
        ("blue", Colour, "one of 'red', 'green'"),
        ("25/11/2026", dt.date, "a date like"),
        ("NaN", Decimal, "decimal"),
        ([1, 2, 3], tuple[int, str], "2 items"),
        ("abc", list[int], "must be a list"),
    ],
)
def test_refuses(value, annotation, message):
    with pytest.raises(ConversionError, match=message):
        convert(value, annotation)


def test_bind_converts_and_places_arguments(huey):
    paint = Catalogue(huey).get("paint")
    args, kwargs = bind_arguments(paint, ["red"], {"when": "2026-11-25", "price": "2.50"})
    assert args == (Colour.RED,)
    assert kwargs == {"when": dt.date(2026, 11, 25), "price": Decimal("2.50")}


def test_bind_var_args(huey):
    gather = Catalogue(huey).get("gather")
    args, kwargs = bind_arguments(gather, [1, 2.5], {"x": "a"})
    assert args == (1.0, 2.5)
    assert kwargs == {"x": "a"}
    with pytest.raises(UserError, match="argument 'items' must be a number"):
        bind_arguments(gather, ["nope"], {})


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ([], {}, "missing a required argument: 'a'"),
        ([1, 2, 3], {}, "too many positional arguments"),
        ([1], {"c": 1}, "unknown keyword argument 'c'; it takes: a, b"),
        ([], {"c": 1}, "unknown keyword argument 'c'"),  # said before the missing 'a'
        (["one"], {}, "argument 'a' must be a whole number"),
        ("notalist", {}, "must be a JSON list"),
        ([1], {1: 2}, "must be a JSON object"),
    ],
)
def test_bind_refuses_with_the_task_and_parameter_named(huey, args, kwargs, message):
    add = Catalogue(huey).get("add")
    with pytest.raises(UserError, match=message) as info:
        bind_arguments(add, args, kwargs)
    assert str(info.value).startswith("add: ")


def test_deep_nesting_is_refused_not_crashing(huey):
    gather = Catalogue(huey).get("gather")
    deep: list = []
    for _ in range(500):
        deep = [deep]
    with pytest.raises(UserError, match="nested"):
        bind_arguments(gather, [], {"x": deep})


def test_context_task_refuses_task_argument(huey):
    info = Catalogue(huey).get("with_context")
    with pytest.raises(UserError, match="filled in by Huey"):
        bind_arguments(info, [1], {"task": 3})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=300)
@given(
    args=st.lists(json_values, max_size=4),
    kwargs=st.dictionaries(
        st.sampled_from(["a", "b", "c", "colour", "when", "price"]), json_values, max_size=3
    ),
)
def test_any_json_call_binds_exactly_or_is_refused(huey_for_hypothesis, args, kwargs):
    catalogue = huey_for_hypothesis
    for name in ("add", "paint", "gather"):
        info = catalogue.get(name)
        try:
            bound_args, bound_kwargs = bind_arguments(info, args, kwargs)
        except UserError as exc:
            assert str(exc) and "\n" not in str(exc)
            continue
        # every accepted call really binds to the function's signature
        info.signature.bind(*bound_args, **bound_kwargs)
        json.dumps([args, kwargs], allow_nan=True)


@pytest.fixture(scope="module")
def huey_for_hypothesis(tmp_path_factory):
    from tests.core.conftest import make_huey

    h = make_huey(tmp_path_factory.mktemp("hyp") / "q.db")
    yield Catalogue(h)
    h.storage.close()
