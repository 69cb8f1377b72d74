"""The embedded default queue (``tasks:huey``) and its demo tasks."""

from tasks import demo  # noqa: F401 - registers the demo tasks with huey
from tasks.config import huey

__all__ = ["huey"]
