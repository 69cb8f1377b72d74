"""Where the default queue and the journals live on disk."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "huey-desk"


def data_dir() -> Path:
    """The user's data folder for Huey Desk (``HUEY_DESK_DATA`` overrides it)."""
    override = os.environ.get("HUEY_DESK_DATA")
    path = Path(override) if override else platformdirs.user_data_path(APP_NAME)
    return path


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the owner only, if it is missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def ensure_private_file(path: Path) -> Path:
    """Create ``path`` empty and readable by the owner only, if it is missing.

    SQLite gives its -wal and -shm files the mode of the database file, so creating the
    file first keeps all three private.
    """
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def default_db_path() -> Path:
    """The embedded default queue: ``HUEY_DESK_DB`` when set, else the data folder."""
    override = os.environ.get("HUEY_DESK_DB")
    if override:
        return Path(override).expanduser()
    return data_dir() / "queue.db"


def sqlite_filename(huey: object) -> Path | None:
    """The database file of a SQLite-backed Huey, or None for other storages."""
    filename = getattr(getattr(huey, "storage", None), "filename", None)
    if not isinstance(filename, str) or filename in ("", ":memory:"):
        return None
    return Path(filename).expanduser().resolve()


def redis_url(pool: object) -> str | None:
    """The URL of a redis-py connection pool, without its password (never printed)."""
    kwargs = getattr(pool, "connection_kwargs", None)
    if not isinstance(kwargs, dict):
        return None
    db = kwargs.get("db", 0)
    user = kwargs.get("username")
    who = f"{user}@" if user else ""
    if kwargs.get("path"):
        return f"unix://{who}{kwargs['path']}?db={db}"
    kind = getattr(getattr(pool, "connection_class", None), "__name__", "")
    scheme = "rediss" if "SSL" in kind else "redis"
    return f"{scheme}://{who}{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"


def storage_location(huey: object) -> str:
    """Where a queue's storage is: its database file, its Redis URL (no password), else
    its Huey name."""
    db = sqlite_filename(huey)
    if db is not None:
        return str(db)
    url = redis_url(getattr(getattr(huey, "storage", None), "pool", None))
    return url or repr(getattr(huey, "name", "huey"))


def queue_location(huey: object) -> str:
    """A queue as sentences name it: its database file, or its name at its Redis URL."""
    where = storage_location(huey)
    if sqlite_filename(huey) is not None or where.startswith("'"):
        return where
    return f"{getattr(huey, 'name', 'huey')!r} at {where}"


def journal_path_for(huey: object) -> Path:
    """Where the journal of ``huey`` lives: shared by every process that attaches to it.

    A SQLite queue keeps its journal beside the queue file, so that a consumer run under
    systemd and the window find the same journal without configuration.
    """
    override = os.environ.get("HUEY_DESK_JOURNAL")
    if override:
        return Path(override).expanduser()
    db = sqlite_filename(huey)
    if db is not None:
        return db.with_name(db.name + ".desk-journal")
    name = getattr(huey, "name", "huey")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))
    return data_dir() / f"journal-{safe}.sqlite"


def mirror_path_for(huey: object, location: str) -> Path:
    """Where a window keeps its local copy of a shared journal (one file per location,
    in this user's data folder; ``HUEY_DESK_MIRROR`` overrides it)."""
    import hashlib

    override = os.environ.get("HUEY_DESK_MIRROR")
    if override:
        return Path(override).expanduser()
    name = getattr(huey, "name", "huey")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))
    digest = hashlib.sha256(location.encode("utf-8")).hexdigest()[:12]
    return data_dir() / f"mirror-{safe}-{digest}.sqlite"
