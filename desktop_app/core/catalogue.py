"""The tasks a Huey instance knows: names, signatures, docs, retry and schedule defaults."""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import re
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from huey import Huey
from huey.api import PeriodicTask, TaskWrapper

from desktop_app.core import django_tasks
from desktop_app.core.errors import UserError

_CRON_FIELDS = ("month", "day", "day_of_week", "hour", "minute")
_CRON_RANGES = {
    "month": range(1, 13),
    "day": range(1, 32),
    "day_of_week": range(0, 8),  # huey accepts 7 for Sunday too
    "hour": range(0, 24),
    "minute": range(0, 60),
}


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of a task function, as the submit form and validator need it."""

    name: str
    kind: str  # POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD, VAR_POSITIONAL, KEYWORD_ONLY, ...
    annotation: Any = inspect.Parameter.empty
    annotation_text: str = ""
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty and self.kind not in (
            "VAR_POSITIONAL",
            "VAR_KEYWORD",
        )


@dataclass(frozen=True)
class TaskInfo:
    """Everything the catalogue knows of one registered task."""

    name: str  # the full Huey name, module.function
    short_name: str
    module: str
    doc: str
    signature: inspect.Signature
    params: tuple[ParamInfo, ...]
    retries: int
    retry_delay: float
    priority: float | None
    context: bool
    periodic: bool
    schedule: str | None = None
    func: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    task_class: type | None = field(default=None, repr=False, compare=False)
    # a django.tasks Task (enqueued through Django's backend); None for huey tasks
    django_task: Any = field(default=None, repr=False, compare=False)

    @property
    def summary(self) -> str:
        """The first line of the docstring."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def next_runs(self, after: dt.datetime, count: int = 3) -> list[dt.datetime]:
        """Next minutes (within 8 days) at which a periodic task fires."""
        if not self.periodic or self.task_class is None:
            return []
        probe = self.task_class()
        start = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        runs: list[dt.datetime] = []
        for minute in range(8 * 24 * 60):
            when = start + dt.timedelta(minutes=minute)
            if probe.validate_datetime(when):
                runs.append(when)
                if len(runs) >= count:
                    break
        return runs


def _annotation_text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _find_function(task_class: type) -> Callable[..., Any] | None:
    """The decorated function behind a Huey task class."""
    module = sys.modules.get(task_class.__module__)
    for value in vars(module).values() if module else ():
        if isinstance(value, TaskWrapper) and value.task_class is task_class:
            return value.func
    execute = task_class.__dict__.get("execute")
    for cell in getattr(execute, "__closure__", None) or ():
        try:
            content = cell.cell_contents
        except ValueError:
            continue
        if callable(content) and not isinstance(content, type):
            return content
    return None


def _compress(values: list[int], full: range) -> str:
    if values == list(full):
        return "*"
    if len(values) > 2:
        step = values[1] - values[0]
        if (
            step > 1
            and values[0] == full.start
            and values == list(range(values[0], full.stop, step))
        ):
            return f"*/{step}"
    return ",".join(str(v) for v in values)


def _describe_schedule(task_class: type) -> str | None:
    """A crontab-style description (minute hour day month weekday) when recoverable."""
    validate = task_class.__dict__.get("validate_datetime")
    inner = None
    for cell in getattr(validate, "__closure__", None) or ():
        try:
            inner = cell.cell_contents
        except ValueError:
            continue
    settings = None
    for cell in getattr(inner, "__closure__", None) or ():
        try:
            content = cell.cell_contents
        except ValueError:
            continue
        if isinstance(content, list) and len(content) == 5:
            settings = content
    if settings is None:
        return "custom schedule"
    text = dict(
        zip(
            _CRON_FIELDS,
            (_compress(list(v), _CRON_RANGES[f]) for f, v in zip(_CRON_FIELDS, settings)),
        )
    )
    return " ".join(text[f] for f in ("minute", "hour", "day", "month", "day_of_week"))


def _task_info(name: str, task_class: type) -> TaskInfo:
    func = _find_function(task_class)
    context = bool(getattr(task_class, "context", False))
    signature, params = _signature(func, "task" if context else None)
    periodic = issubclass(task_class, PeriodicTask)
    return TaskInfo(
        name=name,
        short_name=task_class.__name__,
        module=task_class.__module__,
        doc=inspect.cleandoc(task_class.__doc__ or (func.__doc__ if func else "") or ""),
        signature=signature,
        params=tuple(params),
        retries=int(getattr(task_class, "default_retries", 0) or 0),
        retry_delay=float(getattr(task_class, "default_retry_delay", 0) or 0),
        priority=getattr(task_class, "default_priority", None),
        context=context,
        periodic=periodic,
        schedule=_describe_schedule(task_class) if periodic else None,
        func=func,
        task_class=task_class,
    )


def _django_task_info(task: Any) -> TaskInfo:
    """A ``django.tasks`` task under its own name and signature (its context parameter,
    which Django fills in, left out)."""
    func = task.func
    signature, params = _signature(func, "context" if task.takes_context else None)
    return TaskInfo(
        name=task.module_path,
        short_name=task.name,
        module=func.__module__,
        doc=inspect.cleandoc(func.__doc__ or ""),
        signature=signature,
        params=tuple(params),
        retries=0,
        retry_delay=0.0,
        priority=task.priority or None,
        context=False,
        periodic=False,
        func=func,
        django_task=task,
    )


def _signature(
    func: Callable[..., Any] | None, filled_in: str | None
) -> tuple[inspect.Signature, list[ParamInfo]]:
    """``func``'s signature with its type hints resolved, without the parameter named
    ``filled_in`` (the one the queue passes itself)."""
    params: list[ParamInfo] = []
    signature = inspect.Signature()
    if func is not None:
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            signature = inspect.Signature()
        try:
            hints = typing.get_type_hints(func)
        except Exception:
            hints = {}
        kept = []
        for p in signature.parameters.values():
            if p.name == filled_in:
                continue
            annotation = hints.get(p.name, p.annotation)
            kept.append(p.replace(annotation=annotation))
            params.append(
                ParamInfo(
                    name=p.name,
                    kind=p.kind.name,
                    annotation=annotation,
                    annotation_text=_annotation_text(annotation),
                    default=p.default,
                )
            )
        signature = signature.replace(
            parameters=kept,
            return_annotation=hints.get("return", signature.return_annotation),
        )
    return signature, params


class Catalogue:
    """The registered tasks of one Huey instance, looked up by full or short name."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        registry = huey._registry._registry
        self._tasks = {name: _task_info(name, cls) for name, cls in sorted(registry.items())}
        if self._tasks.pop(django_tasks.DJTASKS_RUN, None) is not None:
            # django.tasks on Huey: each task under its own name, never as djtasks.run
            found = {t.module_path: t for t in django_tasks.project_tasks()}
            self._tasks.update((path, _django_task_info(found[path])) for path in sorted(found))

    def __iter__(self):
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    def names(self) -> list[str]:
        return list(self._tasks)

    def get(self, name: str) -> TaskInfo:
        """The task called ``name`` (full Huey name, or short name when unambiguous)."""
        if name in self._tasks:
            return self._tasks[name]
        matches = [t for t in self._tasks.values() if t.short_name == name]
        if len(matches) == 1:
            return matches[0]
        if matches:
            options = ", ".join(t.name for t in matches)
            raise UserError(f"Task name {name!r} is ambiguous; use one of: {options}.")
        known = ", ".join(sorted(t.short_name for t in self._tasks.values())) or "none"
        raise UserError(f"Unknown task {name!r}; known tasks: {known}.")


def _type_text(annotation: Any) -> str:
    """``int``, ``date | None``, ``ReportKind``: short names, ``None`` for ``NoneType``."""
    if annotation is type(None) or annotation is None:
        return "None"
    if isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)", r"\1", str(annotation))


def signature_text(signature: inspect.Signature) -> str:
    """The signature as people write it: ``(since: date | None = None) -> None``, not the
    ``-> NoneType`` and ``<ReportKind.SUMMARY: 'summary'>`` that ``str()`` prints."""
    parts = []
    star = False
    for p in signature.parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not star:
            parts.append("*")
        star = star or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.KEYWORD_ONLY)
        text = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}.get(p.kind.name, "") + p.name
        if p.annotation is not inspect.Parameter.empty:
            text += f": {_type_text(p.annotation)}"
        if p.default is not inspect.Parameter.empty:
            default = p.default
            shown = (
                f"{type(default).__name__}.{default.name}"
                if isinstance(default, enum.Enum)
                else repr(default)
            )
            text += f" = {shown}"
        parts.append(text)
    text = f"({', '.join(parts)})"
    if signature.return_annotation is not inspect.Signature.empty:
        text += f" -> {_type_text(signature.return_annotation)}"
    return text
