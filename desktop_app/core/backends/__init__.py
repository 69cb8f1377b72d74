"""Storage backends: the journal (and later liveness, in-flight, wake-up) per Huey storage."""

from __future__ import annotations

import os
from typing import Any

from desktop_app.core import paths
from desktop_app.core.journal import Journal, SqliteJournal


def journal_for(huey: Any, path_override: str | os.PathLike[str] | None = None) -> Journal:
    """The journal for ``huey``, chosen once from its storage.

    A Redis-backed Huey (``RedisStorage`` and its priority and expire kinds) gets a
    ``RedisJournal`` on that storage's own connection pool, so the URL and password are
    the project's; any other storage a ``SqliteJournal`` at ``path_override`` or at
    ``paths.journal_path_for(huey)``.  The redis package is imported only for Redis.
    """
    from huey.storage import RedisStorage

    storage = getattr(huey, "storage", None)
    if isinstance(storage, RedisStorage):
        from desktop_app.core.backends.redis.journal import RedisJournal

        return RedisJournal(storage.pool, name=huey.name)
    return SqliteJournal(path_override or paths.journal_path_for(huey))
