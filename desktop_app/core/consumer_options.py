"""The consumer's options as ``run_huey`` takes them: a project's settings, then flags.

Huey's ``ConsumerConfig`` checks them (the same errors ``run_huey`` would give, as a
sentence); only options someone set are passed on, so Huey Desk's own defaults (a worker
health check every second) stay where nobody chose otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from huey.consumer_options import ConsumerConfig

from desktop_app.core.errors import UserError

# Options the consumer's own flags and arguments carry (the rest go to Huey's Consumer).
OWN = ("workers", "worker_type", "periodic")
LOGGING = ("logfile", "verbose", "simple_log")


def merge(settings: dict[str, Any], flags: dict[str, Any], where: str) -> dict[str, Any]:
    """``settings`` (``settings.HUEY['consumer']``) overridden by the flags given (those
    not None), checked by Huey; ``where`` names the settings in messages."""
    options = dict(settings)
    options.update({k: v for k, v in flags.items() if v is not None})
    try:
        ConsumerConfig(**options).validate()
    except TypeError as exc:
        raise UserError(
            f"{where} has an option the consumer does not know ({exc}); "
            "see huey's consumer options."
        ) from None
    except ValueError as exc:
        raise UserError(f"The consumer options of {where} cannot be used: {exc}") from None
    return options


def split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(own, huey's Consumer's, logging)`` parts of merged options."""
    own = {k: options[k] for k in OWN if k in options}
    logs = {k: options[k] for k in LOGGING if k in options}
    rest = {k: v for k, v in options.items() if k not in OWN and k not in LOGGING}
    return own, rest, logs


def log_level(logs: dict[str, Any], default: int) -> int:
    """``verbose`` as ``run_huey`` reads it: True debug, False warnings only."""
    verbose = logs.get("verbose")
    if verbose is None:
        return default
    return logging.DEBUG if verbose else logging.WARNING


def add_log_file(logs: dict[str, Any]) -> None:
    """``logfile``: the consumer's log goes to that file too."""
    if logs.get("logfile"):
        handler = logging.FileHandler(logs["logfile"])
        handler.setFormatter(logging.getLogger().handlers[0].formatter)
        logging.getLogger().addHandler(handler)
