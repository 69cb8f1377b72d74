"""A project's Huey instance alone, as its config module: no task module imported.

A consumer attached here (instead of ``tests.targets.bare_tasks:huey``) meets messages
whose task it has not registered.
"""

from huey import SqliteHuey

from desktop_app.core.paths import default_db_path, ensure_private_file

huey = SqliteHuey("bare", filename=str(ensure_private_file(default_db_path())))
