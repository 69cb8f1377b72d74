"""A queue whose busy timeout is short, so that a held lock shows within a second."""

from huey import SqliteHuey

from desktop_app.core.paths import default_db_path, ensure_private_file

huey = SqliteHuey("faults", filename=str(ensure_private_file(default_db_path())), timeout=0.2)


@huey.task()
def echo(value):
    """Return the value as given."""
    return value
