"""Load the Huey instance named by ``package.module:attr``, with plain errors."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sqlite3
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huey import Huey
from huey.storage import SqliteStorage

from desktop_app.core.errors import QueueBusyError, UserError
from desktop_app.core.paths import default_db_path
from desktop_app.core.storage_errors import BUSY_RETRIES, explain

DEFAULT_TARGET = "tasks:huey"
# ``django:SETTINGS[:QUEUE]``: a Django project's Huey (desktop_app/core/django_target.py)
DJANGO_PREFIX = "django:"
# The embedded default queue's package: always the one installed beside desktop_app.
EMBEDDED_PACKAGE = "tasks"


class QueueMissingError(UserError):
    """A read-only command was pointed at a queue file that does not exist."""


class _ModuleMissing(UserError):
    """The module named by --huey itself was not found (not one that it imports)."""


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
    explained = explain(exc, where, advice=advice, path=filename)
    if explained is not None:
        return explained
    return UserError(
        f"The queue database {where} cannot be opened ({exc}); check that the file and "
        "its folder exist and are writable."
    )


def _sentence(text: str) -> str:
    """``text`` ending in exactly one full stop (a module's own message may end in one)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _failing_file(exc: BaseException) -> Path | None:
    """The user's source file whose import statement raised ``exc`` (not importlib's)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        name = frame.filename
        if name.startswith("<") or "importlib" in name:
            continue
        found = Path(name)
    return found


def _holder_of(missing: str, start: Path | None) -> Path | None:
    """A folder near ``start`` (its own or one of its parents) that holds ``missing``."""
    if start is None:
        return None
    top = missing.split(".")[0]
    for folder in [start.parent, *start.parent.parents][:4]:
        if (folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file():
            return folder
    return None


def _import(
    module_name: str, spec: str, do_import: Callable[[str], object] = importlib.import_module
) -> object:
    """``do_import(module_name)``, its failures turned into one sentence each."""
    try:
        return do_import(module_name)
    except UserError:
        raise
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise _ModuleMissing(
                f"No module named {missing!r} (looked in the current directory and "
                "--path folders); check the spelling or add --path."
            ) from None
        holder = _holder_of(missing, _failing_file(exc))
        if holder is not None:
            raise UserError(
                f"Importing {module_name!r} failed: {_one_line(exc)}; it is in {holder}, "
                f"which is not on the import path: add --path {holder}."
            ) from None
        raise UserError(
            f"Importing {module_name!r} failed: {_one_line(exc)}; install it if it is a "
            "package, or add --path with the folder that holds it."
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
        raise UserError(_sentence(f"Importing {module_name!r} failed: {_one_line(exc)}")) from None


def _embedded_dir() -> Path:
    """The folder of the embedded ``tasks`` package, installed beside ``desktop_app``."""
    import desktop_app

    return Path(desktop_app.__file__).resolve().parent.parent / EMBEDDED_PACKAGE


def _exec_embedded(name: str) -> object:
    """Load the embedded package ``name`` from its installed folder into ``sys.modules``."""
    folder = _embedded_dir()
    existing = sys.modules.get(name)
    if existing is not None:
        if Path(getattr(existing, "__file__", "") or "").parent == folder:
            return existing
        for other in [n for n in sys.modules if n.split(".")[0] == name]:
            del sys.modules[other]  # someone else's ``tasks``, imported earlier
    found = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if found is None or found.loader is None:
        raise UserError(f"The embedded default queue is missing from {folder}; reinstall.")
    package = importlib.util.module_from_spec(found)
    sys.modules[name] = package
    try:
        found.loader.exec_module(package)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return package


def _import_embedded(module_name: str, spec: str) -> object:
    """Import the embedded ``tasks`` package from where it is installed, never from the
    current folder: a project's own ``tasks.py`` there must not stand in for it."""
    _import(EMBEDDED_PACKAGE, spec, _exec_embedded)
    return _import(module_name, spec)


@contextmanager
def _refusing_new_queues() -> Iterator[None]:
    """While a module is imported, refuse to open a SQLite queue file that does not exist
    (Huey would create it): a read-only command must not make a queue as it looks."""
    original = SqliteStorage.__init__

    def init(self: SqliteStorage, *args: object, **kwargs: object) -> None:
        filename = kwargs.get("filename", args[1] if len(args) > 1 else "huey.db")
        if isinstance(filename, str) and filename != ":memory:":
            path = Path(filename).expanduser()
            if not path.exists():
                raise QueueMissingError(missing_queue_sentence(path))
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    SqliteStorage.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        SqliteStorage.__init__ = original  # type: ignore[method-assign]


def missing_queue_sentence(path: Path, default: bool = False) -> str:
    """What a read-only command says when the queue file it should read is missing."""
    where = "HUEY_DESK_DB" if default else "the filename its Huey instance is given"
    return (
        f"The queue {path} does not exist (nothing was ever queued there); check {where}, "
        "or create it with huey-desk submit or huey-desk consumer."
    )


def is_embedded(spec: str | None, paths: Iterable[str] = ()) -> bool:
    """True when ``spec`` means the embedded default queue (``tasks:huey``, no --path)."""
    return (spec or DEFAULT_TARGET).strip() == DEFAULT_TARGET and not list(paths)


def check_queue_exists(spec: str | None, paths: Iterable[str] = ()) -> None:
    """Refuse (``QueueMissingError``) when the default queue's file does not exist.

    Only the embedded default's file is known before its module is imported; for other
    targets pass ``must_exist=True`` to ``load_target``.  Read-only views (status, show,
    tasks, the window without a consumer) call this so they never create a queue.
    """
    if is_embedded(spec, paths):
        path = default_db_path()
        if not path.exists():
            raise QueueMissingError(missing_queue_sentence(path, default=True))


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def refusing_new_queues(must_exist: bool) -> contextlib.AbstractContextManager[None]:
    """With ``must_exist``, refuse to create a SQLite queue file while imports run."""
    return _refusing_new_queues() if must_exist else _nothing()


def check_paths(paths: Iterable[str]) -> None:
    """Refuse a ``--path`` that is not a folder."""
    for extra in paths:
        if not os.path.isdir(os.path.expanduser(extra)):
            raise UserError(f"--path {extra} is not a folder; give a folder to import from.")


def add_import_paths(paths: Iterable[str]) -> None:
    """Put the ``--path`` folders (first given first) and the current one on ``sys.path``."""
    for extra in [*reversed(list(paths)), os.getcwd()]:
        full = os.path.abspath(os.path.expanduser(extra))
        if full not in sys.path:
            sys.path.insert(0, full)


def load_target(
    spec: str = DEFAULT_TARGET,
    paths: Iterable[str] = (),
    on_busy: Callable[[str], None] | None = None,
    busy_retries: int = BUSY_RETRIES,
    must_exist: bool = False,
) -> Target:
    """Import ``spec`` with the current directory and ``paths`` on ``sys.path``.

    Raises ``UserError`` naming what went wrong: module not found, import failed (with
    the module's own error), attribute missing, or not a Huey instance.  A queue that
    another process keeps locked while the module makes its tables is retried a few
    times (``on_busy`` hears a sentence before each retry), then reported as busy.

    ``tasks:huey`` without ``paths`` is the embedded default, imported from where Huey
    Desk is installed (never a ``tasks.py`` in the current folder).  ``must_exist``: for
    read-only commands, refuse a SQLite queue file that does not exist instead of letting
    the import create it (``QueueMissingError``).  ``main.huey`` (Huey's own dotted form)
    is read as ``main:huey`` when ``main.huey`` is not a module.
    """
    if is_django_spec(spec):
        return load_django_target(spec, paths, must_exist=must_exist)
    module_name, attr = parse_spec(spec)
    paths = list(paths)
    check_paths(paths)
    embedded = not paths and module_name.split(".")[0] == EMBEDDED_PACKAGE
    if must_exist and embedded:
        check_queue_exists(DEFAULT_TARGET)
    if not embedded:
        add_import_paths(paths)
    dotted = ":" not in spec and "." in module_name
    for attempt in range(busy_retries + 1):
        try:
            with refusing_new_queues(must_exist):
                try:
                    module = (_import_embedded if embedded else _import)(module_name, spec)
                except _ModuleMissing:
                    if not dotted:
                        raise
                    # huey's own form, main.huey: the module main, the attribute huey
                    module_name, _, attr = module_name.rpartition(".")
                    dotted = False
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


def is_django_spec(spec: str | None) -> bool:
    """True for ``django:SETTINGS`` (``--django``): a Django project's Huey."""
    return isinstance(spec, str) and spec.strip().startswith(DJANGO_PREFIX)


def load_django_target(spec: str, paths: Iterable[str] = (), must_exist: bool = False) -> Target:
    """The Huey of the Django project ``django:SETTINGS`` (Django is imported only here)."""
    from desktop_app.core import django_target

    return django_target.load(spec, list(paths), must_exist=must_exist)


def load_redis_target(url: str, name: str = "huey") -> Target:
    """Attach to the Redis-backed Huey queue ``name`` at ``url`` without importing any
    project code: what the queue holds can be watched, revoked and flushed; submitting
    needs the tasks, so their module (``--huey``).

    Which kind of Redis Huey it is comes from the keys Huey made: a sorted-set queue is
    a ``PriorityRedisHuey``, results kept under one key each a ``RedisExpireHuey``; where
    those keys do not exist yet, from the storage its newest ``huey-desk consumer``
    registered with (a plain ``RedisHuey`` when there is none).
    """
    if not isinstance(url, str) or not url.strip():
        raise UserError("--redis needs a URL like redis://localhost:6379/0.")
    url = url.strip()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise UserError(
            f"{_safe(url)!r} is not a Redis URL; use redis://HOST:PORT/DB, rediss:// for "
            "TLS, or unix:///path/to/redis.sock."
        )
    if not name or not name.strip():
        raise UserError("--name needs the Huey instance's name (its first argument).")
    try:
        import redis  # noqa: F401
        from huey import PriorityRedisExpireHuey, PriorityRedisHuey, RedisExpireHuey, RedisHuey
    except ImportError:
        raise UserError(
            "Redis support needs the redis package: pip install 'huey-desk[redis]'."
        ) from None
    probe = RedisHuey(name, url=url)
    where = f"{name!r} at {_safe(url)}"
    try:
        conn = probe.storage.conn
        queue_kind = conn.type(probe.storage.queue_key)
        plain_results = conn.exists(probe.storage.result_key)
        expiring = not plain_results and bool(
            next(iter(conn.scan_iter(match=f"huey.r.{probe.storage.name}.*", count=100)), None)
        )
        empty = queue_kind in (b"none", "none")
        registered = ""
        if empty or not (plain_results or expiring):
            # the keys do not say (yet): what the queue's consumers registered with does
            from desktop_app.core.backends.redis.names import registered_storage

            registered = registered_storage(conn, name) or ""
    except Exception as exc:
        explained = explain(exc, where)
        probe.storage.pool.disconnect()
        if explained is not None:
            raise explained from None
        raise
    priority = queue_kind in (b"zset", "zset") or (empty and registered.startswith("Priority"))
    expiring = expiring or (not plain_results and "Expire" in registered)
    kind = {
        (False, False): RedisHuey,
        (True, False): PriorityRedisHuey,
        (False, True): RedisExpireHuey,
        (True, True): PriorityRedisExpireHuey,
    }[(priority, expiring)]
    if kind is RedisHuey:
        huey = probe
    else:
        probe.storage.pool.disconnect()
        huey = kind(name, url=url)
    return Target(spec=f"redis:{name}", module="", attr="", huey=huey)


def _safe(url: str) -> str:
    """A URL with any password in it replaced, for messages."""
    head, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    auth, _, host = rest.partition("@")
    user = auth.split(":", 1)[0]
    return f"{head}://{user + ':***' if user else '***'}@{host}"


# For django_target, which imports the settings and djhuey the same way.
ModuleMissingError = _ModuleMissing
import_plainly = _import
one_line = _one_line
