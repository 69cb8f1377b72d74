"""Check call arguments against a task's signature and convert JSON to annotated types.

JSON has no dates, tuples or enums, so a value typed ``date`` arrives as ``"2026-11-25"``.
Conversion happens only where it is safe and unambiguous (documented per type below);
anything else is passed as given or refused with a sentence naming the parameter.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import math
import pathlib
import types
import typing
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from desktop_app.core.catalogue import TaskInfo
from desktop_app.core.errors import UserError

MAX_DEPTH = 64


class ConversionError(ValueError):
    """A value that does not fit its annotation; the message says why."""


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a whole number", float: "a number", str: "text"}.get(
        type(value), type(value).__name__
    )


def _check_depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ConversionError(f"more than {MAX_DEPTH} levels")
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_depth(v, depth + 1)
    elif isinstance(value, dict):
        for v in value.values():
            _check_depth(v, depth + 1)


def _finite(value: float) -> float:
    if isinstance(value, int):
        try:
            value = float(value)
        except OverflowError:
            raise ConversionError("is too large a number") from None
    if not math.isfinite(value):
        raise ConversionError(f"must be a finite number, not {value!r}")
    return value


def convert(value: Any, annotation: Any) -> Any:
    """Convert a JSON value to ``annotation``; raise ``ConversionError`` if it cannot."""
    if annotation in (inspect.Parameter.empty, Any, object) or isinstance(annotation, str):
        return value
    if (
        isinstance(annotation, type)
        and not isinstance(value, bool)
        and annotation not in (list, tuple, set, frozenset, dict, float)
        and isinstance(value, annotation)
    ):
        return value  # already the right type (a replayed call, or a caller in Python)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return convert(value, option)
            except ConversionError as exc:
                errors.append(str(exc))
        raise ConversionError(errors[0] if len(errors) == 1 else f"does not match {annotation}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConversionError(f"must be one of {', '.join(map(repr, args))}")
    if origin is typing.Annotated:
        return convert(value, args[0])
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set, frozenset):
        container = origin or annotation
        if isinstance(value, (tuple, set, frozenset)):  # a replayed call, already typed
            value = list(value)
        if not isinstance(value, list):
            raise ConversionError(f"must be a list, not {_kind(value)}")
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise ConversionError(f"must be a list of {len(args)} items")
            return tuple(convert(v, a) for v, a in zip(value, args))
        item = args[0] if args else Any
        items = [convert(v, item) for v in value]
        return container(items) if container is not list else items
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConversionError(f"must be an object, not {_kind(value)}")
        key_t, val_t = args if len(args) == 2 else (Any, Any)
        return {convert(k, key_t): convert(v, val_t) for k, v in value.items()}
    if origin is not None:
        return value  # other generics (Callable, Iterable, ...) pass through unchanged
    if annotation is type(None) or annotation is None:
        if value is None:
            return None
        raise ConversionError("must be null")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConversionError(f"must be true or false, not {_kind(value)}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConversionError("must be a whole number, not true/false")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise ConversionError(f"must be a whole number, not {value!r}")
    if annotation is float:
        if isinstance(value, bool):
            raise ConversionError("must be a number, not true/false")
        if isinstance(value, (int, float)):
            return float(_finite(value))
        raise ConversionError(f"must be a number, not {_kind(value)}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConversionError(f"must be text, not {_kind(value)}")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        for member in annotation:
            if member.value == value and type(member.value) is type(value):
                return member
        if isinstance(value, str) and value in annotation.__members__:
            return annotation[value]
        options = ", ".join(repr(m.value) for m in annotation)
        raise ConversionError(f"must be one of {options}")
    if annotation is dt.datetime:
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                pass
        raise ConversionError("must be a date and time like 2026-11-25T14:30:00")
    if annotation is dt.date:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ConversionError("must be a date like 2026-11-25")
    if annotation is dt.time:
        if isinstance(value, str):
            try:
                return dt.time.fromisoformat(value)
            except ValueError:
                pass
        raise ConversionError("must be a time like 14:30:00")
    if annotation is dt.timedelta:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return dt.timedelta(seconds=_finite(value))
            except OverflowError:
                raise ConversionError("is too long a time") from None
        raise ConversionError("must be a number of seconds")
    if annotation is Decimal:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            try:
                result = Decimal(value)
            except InvalidOperation:
                raise ConversionError(f"must be a decimal number, not {value!r}") from None
            if result.is_finite():
                return result
        raise ConversionError('must be a decimal number written as text, like "12.50"')
    if annotation is uuid.UUID:
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                pass
        raise ConversionError("must be a UUID")
    if isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath):
        if isinstance(value, str):
            return annotation(value)
        raise ConversionError("must be a path written as text")
    return value  # an unknown class: passed as given, the task decides


def bind_arguments(task: TaskInfo, args: list | tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Validate ``args``/``kwargs`` for ``task`` and return them converted.

    Raises ``UserError`` with a sentence that names the task and the parameter.
    """
    if not isinstance(args, (list, tuple)):
        raise UserError(f"{task.short_name}: positional arguments must be a JSON list.")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise UserError(f"{task.short_name}: keyword arguments must be a JSON object.")
    if task.context and "task" in kwargs:
        raise UserError(f"{task.short_name}: 'task' is filled in by Huey; do not pass it.")
    try:
        _check_depth(list(args))
        _check_depth(kwargs)
    except ConversionError as exc:
        raise UserError(
            f"{task.short_name}: the arguments are too deeply nested ({exc})."
        ) from None
    params = task.signature.parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        # Python's binder reports a missing argument before an unknown one; the unknown
        # name is usually the mistake (a typo), so say that first.
        keywords = {
            n
            for n, p in params.items()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        }
        unknown = sorted(k for k in kwargs if k not in keywords)
        if unknown:
            known = ", ".join(sorted(keywords)) or "none"
            raise UserError(
                f"{task.short_name}: unknown keyword argument {unknown[0]!r}; it takes: {known}."
            )
    try:
        bound = task.signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise UserError(f"{task.short_name}: {exc}.") from None
    params = task.signature.parameters
    converted_args: list[Any] = []
    converted_kwargs: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        param = params[name]
        try:
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                new = tuple(convert(v, param.annotation) for v in value)
            elif param.kind is inspect.Parameter.VAR_KEYWORD:
                new = {k: convert(v, param.annotation) for k, v in value.items()}
            else:
                new = convert(value, param.annotation)
        except ConversionError as exc:
            raise UserError(f"{task.short_name}: argument {name!r} {exc}.") from None
        except RecursionError:
            raise UserError(
                f"{task.short_name}: argument {name!r} is nested too deeply."
            ) from None
        except (OverflowError, ValueError) as exc:
            raise UserError(
                f"{task.short_name}: argument {name!r} cannot be used ({exc})."
            ) from None
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            converted_args.extend(new)
        elif param.kind is inspect.Parameter.VAR_KEYWORD:
            converted_kwargs.update(new)
        elif param.kind is inspect.Parameter.KEYWORD_ONLY or name in kwargs:
            converted_kwargs[name] = new
        else:
            converted_args.append(new)
    return tuple(converted_args), converted_kwargs
