"""Turn task arguments and results into JSON the journal can keep, and back.

Plain JSON loses types (tuples, dates, decimals), so values that JSON cannot say directly
are tagged: ``{"$date": "2026-11-25"}``.  ``encode`` also says whether the round trip is
exact; only exact arguments can be replayed by "retry with the same arguments".
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import math
import reprlib
import uuid
from decimal import Decimal
from typing import Any

PREVIEW_LIMIT = 200
_MAX_DEPTH = 50

_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxlist = 10
_repr.maxtuple = 10
_repr.maxdict = 10
_repr.maxset = 10
_repr.maxlevel = 4


class _Inexact(Exception):
    """Raised inside ``encode`` when a value has no exact JSON form."""


def preview(value: Any, limit: int = PREVIEW_LIMIT) -> str:
    """A short, safe repr for display; never longer than ``limit`` characters."""
    try:
        text = _repr.repr(value)
    except Exception as exc:  # a custom __repr__ may raise anything
        text = f"<{type(value).__name__}: repr failed: {type(exc).__name__}>"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def args_preview(args: tuple | list, kwargs: dict, limit: int = PREVIEW_LIMIT) -> str:
    """``1, 'a', key=2`` for a call's arguments, shortened to ``limit``."""
    parts = [preview(a, limit) for a in args]
    parts += [f"{k}={preview(v, limit)}" for k, v in kwargs.items()]
    text = ", ".join(parts)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _enc(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise _Inexact
    if isinstance(value, enum.Enum):
        # The member's value: replaying the call converts it back through the
        # parameter's annotation (importing a class named in the journal would let the
        # journal choose code to run).
        return {
            "$enum": [
                f"{type(value).__module__}.{type(value).__qualname__}",
                _enc(value.value, depth + 1),
            ]
        }
    if value is None or isinstance(value, bool):
        return bool(value) if value is not None else None
    if isinstance(value, str):
        return str(value)  # a str subclass becomes a plain str
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        value = float(value)  # numpy.float64 and other subclasses
        if math.isfinite(value):
            return value
        return {"$float": repr(value)}
    if isinstance(value, list):
        return [_enc(v, depth + 1) for v in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return {"$tuple": [_enc(v, depth + 1) for v in value]}
    if isinstance(value, dict) and type(value) is dict:
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _enc(v, depth + 1) for k, v in value.items()}
        return {"$dict": [[_enc(k, depth + 1), _enc(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$timedelta": value.total_seconds()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (set, frozenset)):
        return {"$set": [_enc(v, depth + 1) for v in value]}
    raise _Inexact


def encode(value: Any) -> tuple[Any, bool]:
    """JSON-safe form of ``value`` and whether ``decode`` gives the same value back.

    When the value has no exact form, the result is ``{"$repr": preview}``.
    """
    try:
        return _enc(value, 0), True
    except (_Inexact, RecursionError):
        return {"$repr": preview(value)}, False


def _dec(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_dec(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        ((tag, body),) = obj.items()
        if tag == "$tuple":
            return tuple(_dec(v) for v in body)
        if tag == "$dict":
            return {_dec(k): _dec(v) for k, v in body}
        if tag == "$datetime":
            return dt.datetime.fromisoformat(body)
        if tag == "$date":
            return dt.date.fromisoformat(body)
        if tag == "$time":
            return dt.time.fromisoformat(body)
        if tag == "$timedelta":
            return dt.timedelta(seconds=body)
        if tag == "$decimal":
            return Decimal(body)
        if tag == "$uuid":
            return uuid.UUID(body)
        if tag == "$bytes":
            return base64.b64decode(body)
        if tag == "$set":
            return {_dec(v) for v in body}
        if tag == "$enum":
            return _dec(body[1])
        if tag == "$float":
            return float(body)
        if tag == "$repr":
            raise ValueError(f"the value {body} was not recorded exactly")
    return {k: _dec(v) for k, v in obj.items()}


def decode(obj: Any) -> Any:
    """Rebuild the value that ``encode`` turned into ``obj`` (exact forms only)."""
    return _dec(obj)
