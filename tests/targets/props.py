"""A queue for the command-line property tests, on the file ``HUEY_DESK_PROPS_DB``."""

import datetime as dt
import os

from huey import SqliteHuey

huey = SqliteHuey("props", filename=os.environ["HUEY_DESK_PROPS_DB"])


@huey.task()
def echo(value):
    """Return the value as given."""
    return value


@huey.task()
def typed(n: int, when: dt.date, ratio: float = 1.0) -> str:
    """Typed parameters: JSON is converted to these types."""
    return f"{n} {when} {ratio}"
