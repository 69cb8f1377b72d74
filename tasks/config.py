"""The default Huey instance: a SQLite queue in the user's data folder (or ``HUEY_DESK_DB``)."""

from huey import SqliteHuey

from desktop_app.core.paths import default_db_path, ensure_private_file

DB_PATH = ensure_private_file(default_db_path())

huey = SqliteHuey("huey-desk", filename=str(DB_PATH))
