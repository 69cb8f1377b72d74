"""Load the Huey instance named by ``package.module:attr``, with plain errors."""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from huey import Huey

from desktop_app.core.errors import UserError

DEFAULT_TARGET = "tasks:huey"


@dataclass(frozen=True)
class Target:
    """A loaded Huey instance and the import path it came from."""

    spec: str
    module: str
    attr: str
    huey: Huey


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``module:attr`` (attr defaults to ``huey``); refuse malformed strings."""
    if not isinstance(spec, str) or not spec.strip():
        raise UserError("--huey needs a value like package.module:huey.")
    module, sep, attr = spec.strip().partition(":")
    attr = attr if sep else "huey"
    parts = module.split(".")
    if not module or not all(p.isidentifier() for p in parts):
        raise UserError(f"{spec!r} is not an import path; use the form package.module:attribute.")
    if not all(p.isidentifier() for p in attr.split(".")):
        raise UserError(f"{attr!r} is not an attribute name; use package.module:attribute.")
    return module, attr


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def load_target(spec: str = DEFAULT_TARGET, paths: Iterable[str] = ()) -> Target:
    """Import ``spec`` with the current directory and ``paths`` on ``sys.path``.

    Raises ``UserError`` naming what went wrong: module not found, import failed (with
    the module's own error), attribute missing, or not a Huey instance.
    """
    module_name, attr = parse_spec(spec)
    for extra in [*reversed(list(paths)), os.getcwd()]:
        full = os.path.abspath(extra)
        if full not in sys.path:
            sys.path.insert(0, full)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise UserError(
                f"No module named {missing!r} (looked in the current directory and "
                "--path folders); check the spelling or add --path."
            ) from None
        raise UserError(
            f"Importing {module_name!r} failed: {_one_line(exc)}; install what it needs."
        ) from None
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            advice = "it is damaged or not a database; point it at another file"
        else:
            advice = "check that the file and its folder exist and are writable"
        raise UserError(
            f"The queue database of {module_name!r} cannot be opened ({text}); {advice}."
        ) from None
    except OSError as exc:
        raise UserError(
            f"Importing {module_name!r} failed: {_one_line(exc)}; check that path and its "
            "permissions."
        ) from None
    except (Exception, SystemExit) as exc:
        raise UserError(f"Importing {module_name!r} failed: {_one_line(exc)}.") from None
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UserError(f"Module {module_name!r} has no attribute {attr!r}.") from None
    if not isinstance(obj, Huey):
        kind = type(obj).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise UserError(f"{module_name}:{attr} is {article} {kind}, not a Huey instance.")
    return Target(spec=f"{module_name}:{attr}", module=module_name, attr=attr, huey=obj)
