"""Which Huey instances a Redis database holds, and of which kind, for ``--redis URL``.

A Redis queue is named by its Huey instance (``--name``); a name under which nothing is
stored (a typo, or no ``--name`` at all when the instance is not called ``huey``) would
show an empty queue as if it were real.  The names are found from the journals' keys
(``huey-desk:{NAME}:events`` and ``...:consumers``) with a ``SCAN``, so only when the
given name has nothing: it walks the whole database.
"""

from __future__ import annotations

from typing import Any

from desktop_app.core.backends.redis.journal import journal_prefix
from desktop_app.core.errors import UserError
from desktop_app.core.paths import storage_location

SCAN_COUNT = 10_000
NAMES_SHOWN = 10
_KEYS = ("events", "consumers")


def journal_names(client: Any) -> list[str]:
    """The names of the Huey Desk journals in this database, sorted."""
    names: set[str] = set()
    head, tail = journal_prefix("*").split("*")
    for suffix in _KEYS:
        for key in client.scan_iter(match=f"{head}*{tail}{suffix}", count=SCAN_COUNT):
            text = key.decode(errors="replace") if isinstance(key, bytes) else str(key)
            names.add(text[len(head) : -len(tail + suffix)])
    return sorted(names)


def registered_storage(client: Any, name: str) -> str | None:
    """The kind of Huey storage (its class name) that the newest consumer of the Huey
    instance ``name`` registered with, or None: how ``--redis`` tells the kind of a
    queue whose keys do not say it yet (no message, no result, no revoke flag)."""
    prefix = journal_prefix(name)
    newest = client.zrevrange(prefix + "consumers", 0, 0)
    if not newest:
        return None
    member = newest[0].decode() if isinstance(newest[0], bytes) else str(newest[0])
    kind = client.hget(prefix + "consumer:" + member, "storage")
    return kind.decode() if isinstance(kind, bytes) else kind


def _holds_anything(huey: Any) -> bool:
    """True when the instance has a journal, or Huey keeps a queue, schedule or results
    under its name (results under keys of their own made the loader pick that kind)."""
    storage = huey.storage
    if callable(getattr(storage, "result_key", None)):
        return True  # RedisExpireHuey: chosen because result keys of that name exist
    keys = [journal_prefix(huey.name) + k for k in _KEYS]
    keys += [storage.queue_key, storage.schedule_key, storage.result_key]
    return storage.conn.exists(*keys) > 0


def check_name(huey: Any, given: bool) -> None:
    """Refuse, in one sentence naming the names there are, a name with nothing stored."""
    if _holds_anything(huey):
        return
    where = storage_location(huey)
    if given:
        head = f"Nothing at {where} is named {huey.name!r}"
    else:
        head = f"No --name was given and nothing at {where} is named {huey.name!r}"
    names = journal_names(huey.storage.conn)
    if names:
        more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
        there = f"the journals there are {', '.join(names[:NAMES_SHOWN])}{more}"
    else:
        there = "there is no Huey Desk journal there"
    raise UserError(
        f"{head} ({there}); give the Huey instance's name with --name NAME, or attach "
        "with --huey MODULE:ATTR."
    )
