"""A task module that fails to import, as a project with a missing dependency would."""

from huey import SqliteHuey

from desktop_app.core.paths import default_db_path

huey = SqliteHuey("broken", filename=str(default_db_path()))

import a_dependency_that_is_not_installed  # noqa: E402, F401
