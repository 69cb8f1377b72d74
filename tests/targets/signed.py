"""A queue whose messages are signed (HMAC) with the secret in ``HUEY_DESK_SECRET``."""

import os
from pathlib import Path

from huey import SqliteHuey
from huey.serializer import SignedSerializer

from desktop_app.core.paths import default_db_path, ensure_private_file

huey = SqliteHuey(
    "signed",
    filename=str(ensure_private_file(default_db_path())),
    serializer=SignedSerializer(secret=os.environ.get("HUEY_DESK_SECRET", "test-secret")),
)


@huey.task()
def touch(path: str) -> str:
    """Create the file ``path``: a visible trace that the task ran."""
    Path(path).touch()
    return path
