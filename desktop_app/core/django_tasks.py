"""``django.tasks`` tasks on Huey (``HueyBackend``), as a Django developer thinks of them.

Every such task travels as the huey task ``djtasks.run(task_path, args, kwargs)`` and
keeps its Django record (status, times, return value, errors, worker ids) in huey's
result store under ``djt.<id>``, where ``<id>`` is the huey task's id.  This module finds
the project's tasks for the catalogue, enqueues them through Django's backend (so the
record exists and ``task.get_result(id)`` works), and reads what a message carries.

Django 6 has ``django.tasks`` built in; before it the ``django-tasks`` backport.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from typing import Any

from desktop_app.core.errors import UserError

# The huey name of the one task every django.tasks task travels as.
DJTASKS_RUN = "huey.contrib.djhuey.tasks_backend.djtasks.run"
RECORD_KEY = "djt.%s"
# Django's status of a task, as the stored state it means (for a task the journal
# never saw: enqueued by the project and run by a consumer without Huey Desk's hooks).
DJANGO_STATES = {
    "READY": "enqueued",
    "RUNNING": "executing",
    "SUCCESSFUL": "complete",
    "FAILED": "error",
}


def tasks_module() -> Any:
    """``django.tasks`` (Django 6+) or the ``django_tasks`` backport; None without either."""
    for name in ("django.tasks", "django_tasks"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def backend(alias: str) -> Any:
    """Django's task backend ``alias`` (made now: importing HueyBackend registers
    ``djtasks.run`` with djhuey's Huey)."""
    module = tasks_module()
    return None if module is None else module.task_backends[alias]


def _submodule(module: Any, name: str) -> Any:
    """``module.name`` (``base``, ``exceptions``), imported; None if it has none."""
    try:
        return importlib.import_module(f"{module.__name__}.{name}")
    except ImportError:
        return None


def _task_class(module: Any) -> type | None:
    """The ``Task`` class of ``django.tasks`` (exported) or of the backport (in ``base``)."""
    found = getattr(module, "Task", None)
    if found is None:
        found = getattr(_submodule(module, "base"), "Task", None)
    return found if isinstance(found, type) else None


def project_tasks() -> list[Any]:
    """The ``django.tasks`` tasks on Huey that the installed apps define: every ``Task``
    in an app's modules imported so far (djhuey's discovery imports each ``tasks``)."""
    module = tasks_module()
    task_class = _task_class(module) if module is not None else None
    if task_class is None:
        return []
    from django.apps import apps
    from huey.contrib.djhuey.tasks_backend import HueyBackend

    packages = tuple(app.name for app in apps.get_app_configs())
    found: dict[str, Any] = {}
    for name, loaded in list(sys.modules.items()):
        if loaded is None or not (name in packages or name.startswith(_dotted(packages))):
            continue
        for value in list(vars(loaded).values()):
            if isinstance(value, task_class) and value.module_path not in found:
                try:
                    on_huey = isinstance(value.get_backend(), HueyBackend)
                except Exception:
                    on_huey = False
                if on_huey:
                    found[value.module_path] = value
    return [found[path] for path in sorted(found)]


def _dotted(packages: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{p}." for p in packages)


def _invalid_task_errors(module: Any) -> tuple[type[BaseException], ...]:
    """The exception Django raises for a task its backend refuses (named InvalidTask in
    Django 6 and recent backports, InvalidTaskError before)."""
    exceptions = _submodule(module, "exceptions")
    found = [getattr(exceptions, n, None) for n in ("InvalidTask", "InvalidTaskError")]
    return tuple(e for e in found if isinstance(e, type)) or (ValueError,)


def aware(eta: dt.datetime, utc: bool) -> dt.datetime:
    """Huey's naive ETA (UTC, or local time for a Huey with ``utc=False``) as Django
    wants ``run_after`` when ``USE_TZ`` is on: aware."""
    return eta.replace(tzinfo=dt.UTC) if utc else eta.astimezone()


def enqueue(
    task: Any,
    args: tuple,
    kwargs: dict,
    *,
    run_after: dt.datetime | None,
    priority: float | None,
    queue_name: str | None,
    where: str,
    supports_priority: bool,
) -> str:
    """Enqueue ``task`` through Django (``task.using(...).enqueue``), so its ``djt.<id>``
    record exists; returns the id (Django's result id, which is the huey task's)."""
    module = tasks_module()
    if priority is not None:
        if not supports_priority:
            raise UserError(
                f"The queue {where} has no priorities (huey refuses them on a plain "
                f"RedisHuey), so {task.name} cannot be queued with one; submit it without "
                "a priority, or use huey.PriorityRedisHuey in settings.HUEY."
            )
        if int(priority) != priority or not -100 <= priority <= 100:
            raise UserError(
                f"{task.name}: a django.tasks priority is a whole number from -100 to 100."
            )
    try:
        chosen = task.using(
            priority=None if priority is None else int(priority),
            run_after=run_after,
            queue_name=queue_name,
        )
        result = chosen.enqueue(*args, **kwargs)
    except _invalid_task_errors(module) as exc:
        raise UserError(f"Django refuses {task.name}: {exc}") from None
    return str(result.id)


def carried(name: Any, args: Any, kwargs: Any) -> tuple[Any, Any, Any]:
    """The call a ``djtasks.run`` message carries, ``(task_path, args, kwargs)``; any
    other message's ``(name, args, kwargs)`` as it is."""
    if (
        name == DJTASKS_RUN
        and isinstance(args, (list, tuple))
        and len(args) == 3
        and isinstance(args[0], str)
        and isinstance(args[1], (list, tuple))
        and isinstance(args[2], dict)
    ):
        return args[0], tuple(args[1]), dict(args[2])
    return name, args, kwargs


def is_carrier(name: Any) -> bool:
    """True for the huey task every django.tasks task travels as."""
    return name == DJTASKS_RUN


def django_view(record: Any) -> dict[str, Any] | None:
    """What users see of a ``djt.<id>`` record: the Django task, its status, its return
    value or errors (exception classes and tracebacks), the workers that ran it."""
    if not isinstance(record, dict) or "status" not in record:
        return None
    errors = [
        {"exception": str(e[0]), "traceback": str(e[1])}
        for e in record.get("errors") or []
        if isinstance(e, (list, tuple)) and len(e) == 2
    ]
    return {
        "task": record.get("task_path"),
        "status": str(record.get("status")),
        "return_value": record.get("return_value"),
        "errors": errors,
        "worker_ids": [str(w) for w in record.get("worker_ids") or []],
        "queue_name": record.get("queue_name"),
        "priority": record.get("priority"),
        "run_after": record.get("run_after"),
    }
