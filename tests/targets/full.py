"""A queue whose database may not grow past ``HUEY_DESK_MAX_PAGES`` pages: a full disk.

``PRAGMA max_page_count`` holds for one connection only, so the storage sets it on every
connection it opens.
"""

import os

from huey import SqliteHuey
from huey.storage import SqliteStorage

from desktop_app.core.paths import default_db_path, ensure_private_file


class FullStorage(SqliteStorage):
    """SQLite storage that cannot grow past a page limit (SQLite says the disk is full)."""

    def _create_connection(self):
        conn = super()._create_connection()
        pages = os.environ.get("HUEY_DESK_MAX_PAGES")
        if pages:
            conn.execute(f"PRAGMA max_page_count = {int(pages)}")
        return conn


class FullHuey(SqliteHuey):
    """SqliteHuey on ``FullStorage``."""

    storage_class = FullStorage


huey = FullHuey("faults", filename=str(ensure_private_file(default_db_path())))


@huey.task()
def echo(value):
    """Return the value as given."""
    return value
