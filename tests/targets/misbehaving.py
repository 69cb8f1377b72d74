"""Tasks that misbehave: results that cannot be stored or are huge, floods of output."""

import sys
import threading

from huey import SqliteHuey

from desktop_app.core.paths import default_db_path, ensure_private_file

huey = SqliteHuey("misbehaving", filename=str(ensure_private_file(default_db_path())))


@huey.task()
def unpicklable():
    """Return a lock: pickle cannot store it as a result."""
    return threading.Lock()


@huey.task()
def huge(size: int) -> str:
    """Return a string of ``size`` characters."""
    return "x" * (size - 1) + "!"


@huey.task()
def chatty(megabytes: int) -> int:
    """Print ``megabytes`` MB of output to stdout and stderr."""
    line = "y" * 1023 + "\n"
    for i in range(megabytes * 1024):
        stream = sys.stdout if i % 2 else sys.stderr
        stream.write(line)
    sys.stdout.flush()
    return megabytes


@huey.task()
def fine(n: int) -> int:
    """Return ``n``: shows the consumer still works."""
    return n
