"""Tagged JSON for task arguments: exact round trips, honest previews."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from desktop_app.core import jsonsafe

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.binary(max_size=20)
    | st.datetimes()
    | st.dates()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.uuids()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        | st.dictionaries(st.integers(), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(values)
def test_exact_values_round_trip_through_json(value):
    encoded, exact = jsonsafe.encode(value)
    assert exact
    again = jsonsafe.decode(json.loads(json.dumps(encoded)))
    assert again == value
    assert type(again) is type(value)


def test_values_without_exact_form_become_previews():
    encoded, exact = jsonsafe.encode({"f": object()})
    assert not exact
    assert "$repr" in encoded


def test_dollar_keys_do_not_collide_with_tags():
    value = {"$date": "not a date"}
    encoded, exact = jsonsafe.encode(value)
    assert exact
    assert jsonsafe.decode(encoded) == value


def test_specials():
    for value in (
        float("inf"),
        dt.time(1, 2),
        dt.timedelta(seconds=3),
        {1, 2},
        Decimal("1.10"),
        uuid.UUID(int=5),
    ):
        encoded, exact = jsonsafe.encode(value)
        assert exact and jsonsafe.decode(encoded) == value


def test_preview_is_bounded_and_survives_bad_repr():
    class Bad:
        def __repr__(self):
            raise ValueError("no")

    assert "Bad" in jsonsafe.preview(Bad())
    assert len(jsonsafe.preview("x" * 10_000)) <= jsonsafe.PREVIEW_LIMIT
    assert len(jsonsafe.args_preview(("x" * 500,) * 10, {"k": "y" * 500})) <= 200
    assert jsonsafe.args_preview((1, "a"), {"k": 2}) == "1, 'a', k=2"


def test_enum_and_number_subclasses_become_plain_json():
    import enum
    import marshal

    class Level(enum.IntEnum):
        HIGH = 3

    class Money(float):
        pass

    encoded, exact = jsonsafe.encode([Level.HIGH, Money(2.5), True])
    assert exact
    assert encoded == [{"$enum": [f"{Level.__module__}.{Level.__qualname__}", 3]}, 2.5, True]
    marshal.dumps(encoded)  # what the writer process is sent
    assert jsonsafe.decode(encoded) == [3, 2.5, True]
