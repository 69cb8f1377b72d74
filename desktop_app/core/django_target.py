"""Attach to a Django project's Huey (``--django SETTINGS``) the way ``run_huey`` finds it:
settings, ``django.setup()``, djhuey's instance, the apps' ``tasks`` modules.

Each way a project can fail to open is one sentence.  Django is imported here only, so
the rest of Huey Desk runs without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from desktop_app.core.errors import UserError
from desktop_app.core.target import (
    DJANGO_PREFIX,
    ModuleMissingError,
    Target,
    add_import_paths,
    check_paths,
    import_plainly,
    one_line,
    refusing_new_queues,
)

DJHUEY = "huey.contrib.djhuey"
DJANGO_HUEY = "django_huey"  # the django-huey package: several queues in one project
HUEY_BACKEND = "huey.contrib.djhuey.tasks_backend.HueyBackend"
NO_DJANGO = (
    "Django is not installed in this environment; install Huey Desk with its Django "
    "extra (pip install 'huey-desk[django]') into the project's environment."
)


def django_spec(settings: str, queue: str | None = None) -> str:
    """The target spec of a project: ``django:SETTINGS``, ``django:SETTINGS:QUEUE``."""
    return f"{DJANGO_PREFIX}{settings.strip()}" + (f":{queue.strip()}" if queue else "")


def parse_django_spec(spec: str) -> tuple[str, str | None]:
    """``(settings module, queue name or None)`` of ``django:SETTINGS[:QUEUE]``."""
    rest = spec.strip()[len(DJANGO_PREFIX) :]
    settings, _, queue = rest.partition(":")
    if not settings or not all(p.isidentifier() for p in settings.split(".")):
        raise UserError(
            f"{settings!r} is not a settings module; give --django the dotted module, "
            "like mysite.settings."
        )
    if queue and not queue.strip():
        raise UserError("--queue needs the name of one of the project's queues.")
    return settings, queue or None


def load(spec: str, paths: list[str], must_exist: bool = False) -> Target:
    """Set the project up and return djhuey's Huey (``--queue``: django-huey's queue).

    ``must_exist``: read-only commands refuse a queue or a SQLite database file that
    does not exist instead of creating it.
    """
    settings_module, queue = parse_django_spec(spec)
    check_paths(paths)
    add_import_paths(paths)
    try:
        import django
        from django.conf import settings
    except ImportError:
        raise UserError(NO_DJANGO) from None
    _setup(django, settings, settings_module, spec, must_exist)
    huey = _queue_huey(settings, settings_module, queue, spec, must_exist)
    if huey.immediate:
        raise UserError(
            f"The Huey of {settings_module} is in immediate mode (djhuey's default while "
            "DEBUG is True): tasks run inside whoever enqueues them and no queue exists; "
            "set 'immediate': False in settings.HUEY."
        )
    _discover_tasks(spec, must_exist)
    _probe_databases(settings_module, must_exist)
    return Target(
        spec=django_spec(settings_module, queue), module=settings_module, attr="HUEY", huey=huey
    )


def _setup(django: Any, settings: Any, module: str, spec: str, must_exist: bool) -> None:
    """Import the settings (their own error, in a sentence) and run ``django.setup()``."""
    if settings.configured:
        current = getattr(settings, "SETTINGS_MODULE", None)
        if current != module:
            raise UserError(
                f"Django is already set up in this process with {current}; "
                f"{module} can only be opened in a process of its own."
            )
        return
    with refusing_new_queues(must_exist):
        try:
            import_plainly(module, spec)
        except ModuleMissingError:
            raise UserError(
                f"No Django settings module {module!r} was found (looked in the current "
                "directory and --path folders); give the project's folder, the one with "
                "manage.py, with --path."
            ) from None
        except UserError as exc:
            raise UserError(f"The Django settings do not import: {exc}") from None
        os.environ["DJANGO_SETTINGS_MODULE"] = module
        try:
            django.setup()  # imports djhuey, which makes the Huey instance
        except UserError:
            raise
        except Exception as exc:
            raise UserError(
                f"Django cannot start with {module}: {one_line(exc)}; manage.py check says more."
            ) from None


def _queue_huey(settings: Any, module: str, queue: str | None, spec: str, must_exist: bool):
    """djhuey's ``HUEY``, or django-huey's queue ``queue``."""
    from django.apps import apps

    if queue is not None:
        if not apps.is_installed(DJANGO_HUEY):
            raise UserError(
                f"--queue {queue} needs django-huey (several queues in one project) in "
                f"INSTALLED_APPS of {module}; without it the project has one queue: "
                "leave --queue out."
            )
        with refusing_new_queues(must_exist):
            django_huey = import_plainly(DJANGO_HUEY, spec)
        if queue not in _django_huey_queues(settings):
            names = ", ".join(_django_huey_queues(settings)) or "none"
            raise UserError(f"{module} has no django-huey queue {queue!r}; its queues: {names}.")
        return django_huey.get_queue(queue)
    if not apps.is_installed(DJHUEY) and apps.is_installed(DJANGO_HUEY):
        names = ", ".join(_django_huey_queues(settings)) or "none"
        raise UserError(
            f"{module} keeps its queues with django-huey; choose one with --queue NAME "
            f"(its queues: {names})."
        )
    if not apps.is_installed(DJHUEY):
        raise UserError(
            f"{DJHUEY} is not in INSTALLED_APPS of {module}; add it there (run_huey needs it too)."
        )
    if not hasattr(settings, "HUEY"):
        raise UserError(
            f"{module} has no HUEY setting (djhuey would guess Redis on localhost); add one, "
            "like HUEY = {'huey_class': 'huey.SqliteHuey', 'filename': 'huey.db'}."
        )
    config = settings.HUEY
    if isinstance(config, dict):
        _check_huey_class(config.get("huey_class", "huey.RedisHuey"), module)
    with refusing_new_queues(must_exist):
        djhuey = import_plainly(DJHUEY, spec)
    return djhuey.HUEY


def _django_huey_queues(settings: Any) -> list[str]:
    """The queue names of ``settings.DJANGO_HUEY['queues']`` (django-huey)."""
    config = getattr(settings, "DJANGO_HUEY", None)
    queues = config.get("queues") if isinstance(config, dict) else None
    return sorted(queues) if isinstance(queues, dict) else []


def _check_huey_class(path: Any, module: str) -> None:
    """Refuse a ``huey_class`` that cannot be imported (djhuey would print a page and exit)."""
    from huey.utils import load_class

    try:
        load_class(path)
    except (ValueError, ImportError, AttributeError, TypeError) as exc:
        raise UserError(
            f"settings.HUEY['huey_class'] of {module} ({path!r}) cannot be imported "
            f"({one_line(exc)}); name a Huey class such as huey.RedisHuey or huey.SqliteHuey."
        ) from None


def _discover_tasks(spec: str, must_exist: bool) -> None:
    """Import every app's ``tasks`` module, as ``run_huey`` does, and the task backends
    that run django.tasks on Huey (so ``djtasks.run`` is registered)."""
    from django.conf import settings
    from django.utils.module_loading import autodiscover_modules

    def discover(_name: str) -> None:
        autodiscover_modules("tasks")

    with refusing_new_queues(must_exist):
        import_plainly("the apps' tasks modules", spec, discover)
        for alias, config in (getattr(settings, "TASKS", None) or {}).items():
            if isinstance(config, dict) and config.get("BACKEND") == HUEY_BACKEND:
                from desktop_app.core import django_tasks

                django_tasks.backend(alias)


def _probe_databases(module: str, must_exist: bool) -> None:
    """Open each database once: a database Django cannot open is said now, not in a task."""
    from django.db import connections

    for alias in connections:
        connection = connections[alias]
        name = str(connection.settings_dict.get("NAME") or "")
        if (
            must_exist
            and connection.vendor == "sqlite"
            and name
            and ":memory:" not in name
            and not name.startswith("file:")
            and Path(name).parent.is_dir()
            and not Path(name).exists()
        ):
            raise UserError(
                f"The database {name} of {module} does not exist; create it with "
                "manage.py migrate."
            )
        try:
            connection.ensure_connection()
        except Exception as exc:
            raise UserError(
                f"Django cannot open the database {alias!r} of {module} ({one_line(exc)}); "
                "check DATABASES in the settings (and run manage.py migrate)."
            ) from None
        finally:
            connection.close()


def consumer_settings(spec: str) -> dict[str, Any]:
    """``settings.HUEY['consumer']``: the options ``run_huey`` starts its consumer with
    (empty when HUEY is a Huey instance, as ``run_huey`` has it); for a django-huey queue,
    ``settings.DJANGO_HUEY['queues'][QUEUE]['consumer']``."""
    from django.conf import settings

    _, queue = parse_django_spec(spec)
    if queue is None:
        config, where = getattr(settings, "HUEY", None), "settings.HUEY['consumer']"
    else:
        queues = (getattr(settings, "DJANGO_HUEY", None) or {}).get("queues") or {}
        config = queues.get(queue)
        where = f"settings.DJANGO_HUEY['queues'][{queue!r}]['consumer']"
    options = config.get("consumer") if isinstance(config, dict) else None
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise UserError(f"{where} must be a dict of consumer options.")
    return dict(options)
