"""The task module of the ``bare`` project: it imports the instance and registers a task."""

from tests.targets.bare import huey

__all__ = ["huey", "send"]


@huey.task()
def send(to: str) -> str:
    """Pretend to send a message."""
    return f"sent to {to}"
