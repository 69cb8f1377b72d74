"""``django.tasks`` tasks on Huey (``HueyBackend``), as a Django developer thinks of them.

Every such task travels as the huey task ``djtasks.run(task_path, args, kwargs)`` and
keeps its Django record (status, times, return value, errors, worker ids) in huey's
result store under ``djt.<id>``, where ``<id>`` is the huey task's id.  This module finds
the project's tasks for the catalogue, enqueues them through Django's backend (so the
record exists and ``task.get_result(id)`` works), and reads what a message carries.

Django 6 has ``django.tasks`` built in; before it the ``django-tasks`` backport.
"""

from __future__ import annotations

import sys
from typing import Any

# The huey name of the one task every django.tasks task travels as.
DJTASKS_RUN = "huey.contrib.djhuey.tasks_backend.djtasks.run"
RECORD_KEY = "djt.%s"


def tasks_module() -> Any:
    """``django.tasks`` (Django 6+) or the ``django_tasks`` backport; None without either."""
    for name in ("django.tasks", "django_tasks"):
        try:
            __import__(name)
        except ImportError:
            continue
        return sys.modules[name]
    return None


def backend(alias: str) -> Any:
    """Django's task backend ``alias`` (made now: importing HueyBackend registers
    ``djtasks.run`` with djhuey's Huey)."""
    module = tasks_module()
    return None if module is None else module.task_backends[alias]
