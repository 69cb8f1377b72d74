"""Load the Huey instance named by ``package.module:attr``, with plain errors."""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from huey import Huey
from huey.storage import SqliteStorage

from desktop_app.core.errors import QueueBusyError, UserError
from desktop_app.core.storage_errors import BUSY_RETRIES, QueueFileError, explain, is_busy

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


def _queue_file_in(exc: BaseException) -> str | None:
    """The file of the SQLite storage that raised ``exc``, read from the traceback.

    The module failed to import, so there is no Huey instance to ask; the storage that
    failed is ``self`` in one of the frames (``SqliteStorage.__init__`` and its calls).
    """
    tb = exc.__traceback__
    found = None
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        filename = getattr(owner, "filename", None)
        if isinstance(owner, SqliteStorage) and isinstance(filename, str):
            found = filename
        tb = tb.tb_next
    return found


def _storage_failure(module_name: str, spec: str, exc: sqlite3.DatabaseError) -> UserError:
    """One sentence for a queue database that failed while the module was imported."""
    filename = _queue_file_in(exc)
    where = f"{filename} of {module_name!r}" if filename else f"of {module_name!r}"
    advice = (
        "set HUEY_DESK_DB to another file or move this one aside"
        if spec == DEFAULT_TARGET
        else "point it at another file or move this one aside"
    )
    text = str(exc)
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return QueueFileError(
            f"The queue database {where} cannot be opened ({text}); it is damaged or not "
            f"a database; {advice}.",
            filename,
        )
    if is_busy(exc):
        return QueueBusyError(
            f"The queue database {where} is busy (locked by another process); "
            "try again in a moment."
        )
    if "unable to open" in lowered:
        return QueueFileError(
            f"The queue database {where} cannot be opened ({text}); check that it is a file "
            f"and that its folder exists and is writable, or {advice}.",
            filename,
        )
    explained = explain(exc, filename or repr(module_name))
    if explained is not None:
        return explained
    return UserError(
        f"The queue database {where} cannot be opened ({text}); check that the file and "
        "its folder exist and are writable."
    )


def _import(module_name: str, spec: str) -> object:
    try:
        return importlib.import_module(module_name)
    except UserError:
        raise
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
        raise _storage_failure(module_name, spec, exc) from None
    except OSError as exc:
        if exc.filename:
            what = exc.strerror or type(exc).__name__
            hint = "; or set HUEY_DESK_DB to another file" if spec == DEFAULT_TARGET else ""
            raise UserError(
                f"Importing {module_name!r} failed: {exc.filename} cannot be created or "
                f"opened ({what}); check that path and the permissions of its folder{hint}."
            ) from None
        raise UserError(
            f"Importing {module_name!r} failed: {_one_line(exc)}; check that path and its "
            "permissions."
        ) from None
    except (Exception, SystemExit) as exc:
        raise UserError(f"Importing {module_name!r} failed: {_one_line(exc)}.") from None


def load_target(
    spec: str = DEFAULT_TARGET,
    paths: Iterable[str] = (),
    on_busy: Callable[[str], None] | None = None,
    busy_retries: int = BUSY_RETRIES,
) -> Target:
    """Import ``spec`` with the current directory and ``paths`` on ``sys.path``.

    Raises ``UserError`` naming what went wrong: module not found, import failed (with
    the module's own error), attribute missing, or not a Huey instance.  A queue that
    another process keeps locked while the module makes its tables is retried a few
    times (``on_busy`` hears a sentence before each retry), then reported as busy.
    """
    module_name, attr = parse_spec(spec)
    for extra in [*reversed(list(paths)), os.getcwd()]:
        full = os.path.abspath(extra)
        if full not in sys.path:
            sys.path.insert(0, full)
    for attempt in range(busy_retries + 1):
        try:
            module = _import(module_name, spec)
            break
        except QueueBusyError as exc:
            if attempt >= busy_retries:
                raise
            if on_busy is not None:
                on_busy(str(exc).replace("try again in a moment", "retrying"))
            time.sleep(0.05 * 2**attempt)
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
