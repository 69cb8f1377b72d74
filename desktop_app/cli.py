"""The ``huey-desk`` command line: gui (default), consumer, submit, status, show.

Exit codes: 0 success, 2 bad usage or bad input (one line on stderr), 1 anything else.
Qt is imported only by the ``gui`` command, so the others run where Qt is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop_app import __version__

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that says what is wrong in one line and exits with 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: {_one_line(message)} (see --help)\n")


class _Default(str):
    """A default that can be told from the same value given on the command line."""


DEFAULT_NAME = _Default("huey")


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--huey",
        default=None,
        metavar="MOD:ATTR",
        help="the Huey instance to attach to (default: tasks:huey)",
    )
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder to put on the import path (repeatable)",
    )
    parser.add_argument(
        "--journal",
        default=None,
        metavar="FILE",
        help="the journal file (default: beside a SQLite queue)",
    )
    parser.add_argument(
        "--redis",
        default=None,
        metavar="URL",
        help="attach to a Redis-backed Huey queue without its project code "
        "(redis://HOST:PORT/DB, rediss://, unix:///path); with --name",
    )
    parser.add_argument(
        "--name",
        default=DEFAULT_NAME,
        metavar="NAME",
        help="with --redis: the Huey instance's name (default: huey)",
    )
    parser.add_argument(
        "--django",
        default=None,
        metavar="SETTINGS",
        help="a Django project's Huey (djhuey), by its settings module, like mysite.settings; "
        "with --path for the project folder (default: DJANGO_SETTINGS_MODULE when neither "
        "--huey nor --redis is given)",
    )
    parser.add_argument(
        "--queue",
        default=None,
        metavar="NAME",
        help="with --django: one of the project's django-huey queues",
    )


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError("must be between 1 and 64")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="huey-desk", description="Monitor and dispatch Huey task queues.")
    parser.add_argument("--version", action="version", version=f"huey-desk {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    gui = sub.add_parser("gui", help="open the window (the default command)")
    _add_target(gui)
    gui.add_argument("--no-consumer", action="store_true", help="only watch; start no consumer")
    gui.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help="consumer workers (default 2, or a Django project's settings.HUEY['consumer'])",
    )

    consumer = sub.add_parser("consumer", help="run a consumer that reports to the journal")
    _add_target(consumer)
    consumer.add_argument(
        "--workers",
        "-w",
        type=_workers,
        default=None,
        help="number of workers (default 1, or a Django project's settings.HUEY['consumer'])",
    )
    consumer.add_argument(
        "--worker-type",
        "-k",
        choices=("thread", "process"),
        default=None,
        help="run workers as threads or processes (default thread, or the project's settings)",
    )
    consumer.add_argument(
        "--scheduler-interval",
        type=int,
        default=None,
        metavar="S",
        help="how often (1-60 s, a factor of 60) the scheduler looks for due tasks",
    )
    consumer.add_argument(
        "--no-periodic", action="store_true", help="do not enqueue periodic tasks"
    )
    consumer.add_argument(
        "--retain-events",
        type=int,
        default=1_000_000,
        metavar="N",
        help="keep at most N journal events (default 1,000,000)",
    )
    consumer.add_argument(
        "--retain-days",
        type=_number,
        default=30.0,
        metavar="D",
        help="drop journal history older than D days (default 30)",
    )
    consumer.add_argument(
        "--no-rerun-interrupted",
        action="store_true",
        help="when a consumer dies mid-task, only record its tasks as interrupted; by "
        "default those that declared retries are put back on the queue",
    )
    consumer.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    consumer.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        metavar="PID",
        help="stop gracefully once process PID is gone (the window "
        "passes its own, so its consumer never outlives it)",
    )

    submit = sub.add_parser("submit", help="enqueue a task")
    _add_target(submit)
    submit.add_argument("task", help="the task's short name or full Huey name")
    submit.add_argument(
        "--args", default="[]", metavar="JSON", help="positional arguments as a JSON list"
    )
    submit.add_argument(
        "--kwargs", default="{}", metavar="JSON", help="keyword arguments as a JSON object"
    )
    when = submit.add_mutually_exclusive_group()
    when.add_argument("--delay", type=_number, metavar="S", help="run after S seconds")
    when.add_argument(
        "--eta", metavar="ISO", help="run at this date and time (local unless a zone is given)"
    )
    submit.add_argument("--priority", type=_number, metavar="P", help="higher runs first")
    submit.add_argument(
        "--queue-name",
        default=None,
        metavar="NAME",
        help="for a django.tasks task: the Django queue name to give it",
    )
    submit.add_argument("--json", action="store_true", help="print one JSON object")

    status = sub.add_parser("status", help="queue counts, workers and task states")
    _add_target(status)
    status.add_argument("--json", action="store_true", help="print one JSON object")

    show = sub.add_parser("show", help="one task: state, arguments, result or error, events")
    _add_target(show)
    show.add_argument("id", help="the task id (or an unambiguous prefix of it)")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.add_argument("--full", action="store_true", help="print the whole result, not a preview")

    tasks = sub.add_parser("tasks", help="list the tasks of the Huey instance")
    _add_target(tasks)
    tasks.add_argument("--json", action="store_true", help="print one JSON object")

    metrics = sub.add_parser(
        "metrics", help="serve the queue's figures to Prometheus (OpenMetrics text over HTTP)"
    )
    _add_target(metrics)
    metrics.add_argument(
        "--port", type=_port, default=9464, help="the port to serve on (default 9464)"
    )
    metrics.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="the address to listen on (default 127.0.0.1: this machine only; "
        "0.0.0.0 for every network)",
    )

    watch = sub.add_parser(
        "watch", help="print alerts as they fire and clear, by the rules in alerts.json"
    )
    _add_target(watch)
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    watch.add_argument(
        "--every",
        type=_number,
        default=1.0,
        metavar="S",
        help="look every S seconds (default 1)",
    )

    for name, help_text in (
        ("retry", "enqueue finished tasks again with the same arguments (one, or in bulk)"),
        ("revoke", "revoke pending or scheduled tasks (one, or in bulk)"),
        ("restore", "undo a revoke"),
        ("run-now", "run a delayed or scheduled task as soon as a worker is free"),
    ):
        action = sub.add_parser(name, help=help_text)
        _add_target(action)
        if name in ("retry", "revoke"):
            _add_bulk(action)
        else:
            action.add_argument("id", help="the task id (or an unambiguous prefix of it)")
        action.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _add_bulk(parser: argparse.ArgumentParser) -> None:
    """``retry`` and ``revoke``: task ids, or a filter of the journal's tasks."""
    parser.add_argument(
        "id", nargs="*", help="task ids (or unambiguous prefixes); or give a filter instead"
    )
    parser.add_argument("--state", metavar="STATE", help="only tasks in this state (failed...)")
    parser.add_argument("--task", metavar="NAME", help="only tasks of this task")
    parser.add_argument(
        "--since", metavar="WHEN", help="that reached their state since: 1h, 30m, 2d or a time"
    )
    parser.add_argument("--until", metavar="WHEN", help="... and until: the same forms")
    parser.add_argument("--text", metavar="TEXT", help="whose id, arguments or error hold TEXT")
    parser.add_argument(
        "--dry-run", action="store_true", help="say how many and which, and change nothing"
    )
    parser.add_argument(
        "--show",
        type=_workers,
        default=20,
        metavar="N",
        help="with --dry-run: list the first N tasks (default 20, at most 64)",
    )


# -- helpers ----------------------------------------------------------------------------
def _load(ns: argparse.Namespace, read_only: bool = False):
    """The target and its journal.  ``read_only``: a missing queue is refused instead of
    created, and a missing journal is read as an empty one instead of made."""
    from desktop_app.core.backends import journal_for
    from desktop_app.core.errors import UserError
    from desktop_app.core.journal import SqliteJournal
    from desktop_app.core.paths import queue_location

    if ns.journal and not Path(ns.journal).expanduser().parent.is_dir():
        raise UserError(f"The folder of --journal {ns.journal} does not exist.")
    target = _target(ns, read_only)
    _where["queue"] = queue_location(target.huey)
    journal = journal_for(target.huey, Path(ns.journal).expanduser() if ns.journal else None)
    ns.missing_journal = None
    if read_only and isinstance(journal, SqliteJournal) and not journal.path.exists():
        ns.missing_journal = journal.path
        return target, SqliteJournal(_scratch_dir() / "empty.desk-journal")
    return target, journal


def _target(ns: argparse.Namespace, read_only: bool = False) -> Any:
    """The Huey instance named by --huey (imported) or --redis and --name (not)."""
    from desktop_app.core.errors import UserError
    from desktop_app.core.target import DEFAULT_TARGET, load_redis_target, load_target

    if getattr(ns, "redis", None):
        if ns.huey:
            raise UserError("Give either --huey or --redis, not both.")
        return load_redis_target(ns.redis, ns.name)
    return load_target(
        ns.huey or DEFAULT_TARGET, ns.path, on_busy=_busy_notice, must_exist=read_only
    )


def _django_target(ns: argparse.Namespace) -> None:
    """``--django SETTINGS`` (or ``DJANGO_SETTINGS_MODULE`` when no other target is given)
    as the target spec ``django:SETTINGS[:QUEUE]``, which every command and the window's
    consumer load like any other."""
    import os

    from desktop_app.core.errors import UserError

    if not hasattr(ns, "huey"):
        return
    settings = ns.django
    if settings is None and not ns.huey and not ns.redis:
        settings = os.environ.get("DJANGO_SETTINGS_MODULE") or None
    if settings is None:
        if ns.queue:
            raise UserError("--queue names a queue of a Django project; give --django too.")
        return
    if ns.huey or ns.redis:
        raise UserError(f"Give either --django or --{'huey' if ns.huey else 'redis'}, not both.")
    from desktop_app.core.django_target import django_spec

    ns.huey = django_spec(settings, ns.queue)


def _scratch_dir() -> Path:
    """A private folder removed when the command ends (an empty journal to read)."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="huey-desk-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


_busy_said: set[str] = set()
# The queue the command works on, as sentences name it (for storage faults met late).
_where: dict[str, str] = {}


def _busy_notice(sentence: str) -> None:
    """Say once on stderr that a locked queue is being waited for: never a silent wait."""
    if sentence not in _busy_said:
        _busy_said.add(sentence)
        print(f"huey-desk: {sentence}", file=sys.stderr, flush=True)


def _shared_queue(target: Any) -> None:
    """Refuse queues that live only inside this process: work put there is lost."""
    from huey.storage import BlackHoleStorage, MemoryStorage

    from desktop_app.core.errors import UserError

    if isinstance(target.huey.storage, (MemoryStorage, BlackHoleStorage)):
        raise UserError(
            f"{target.spec} keeps its queue in memory ({type(target.huey).__name__}); other "
            "processes cannot see it. Use SqliteHuey, RedisHuey or FileHuey."
        )


def _json_arg(text: str, what: str, kind: type) -> Any:
    from desktop_app.core.errors import UserError

    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise UserError(f"--{what} is not valid JSON: {_json_problem(exc)}.") from None
    except ValueError as exc:
        raise UserError(f"--{what} is not valid JSON: {exc}.") from None
    except RecursionError:
        raise UserError(f"--{what} is nested too deeply.") from None
    if not isinstance(value, kind):
        expected = 'a list, like [1, "a"]' if kind is list else 'an object, like {"x": 1}'
        raise UserError(f"--{what} must be {expected}.")
    return value


def _json_problem(exc: json.JSONDecodeError) -> str:
    """What is wrong with a JSON text, in words rather than the parser's."""
    text, pos = exc.doc, exc.pos
    where = f"(character {pos + 1})"
    before = text[:pos].rstrip()
    last = before[-20:].split("[")[-1].split("{")[-1].split(",")[-1].split(":")[-1].strip()
    found = text[pos : pos + 1]
    if exc.msg.startswith("Expecting ',' delimiter"):
        closer = "]" if _open_bracket(before) == "[" else "}"
        return f"a ',' or '{closer}' is missing after {last or 'the value'} {where}"
    if exc.msg.startswith("Expecting ':' delimiter"):
        return f"a ':' is missing after the key {last} {where}"
    if exc.msg.startswith("Expecting property name"):
        return f"a key in double quotes is expected {where}, found {found!r}"
    if exc.msg.startswith("Expecting value"):
        if pos >= len(text.rstrip()):
            return "it ends where a value should follow"
        return f"a value is expected {where}, found {found!r}"
    if exc.msg.startswith("Unterminated string"):
        return f"the string opened at character {pos + 1} is not closed with a '\"'"
    if exc.msg.startswith("Extra data"):
        return f"there is more after the end of the value {where}"
    if exc.msg.startswith("Invalid control character"):
        return f"a string holds a raw control character {where}; write it as an escape (\\n)"
    if exc.msg.startswith("Invalid"):
        return f"a backslash escape is not valid {where}"
    return f"{exc.msg[:1].lower()}{exc.msg[1:]} {where}"


def _open_bracket(text: str) -> str | None:
    """The innermost bracket still open at the end of ``text`` (strings skipped)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _print_json(obj: Any) -> None:
    # ASCII escapes: valid JSON whatever the text holds (lone surrogates included)
    print(json.dumps(obj, indent=None, default=str, ensure_ascii=True))


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


# -- commands ---------------------------------------------------------------------------
def cmd_submit(ns: argparse.Namespace) -> int:
    from desktop_app.core.dispatcher import Dispatcher
    from desktop_app.core.errors import UserError

    if ns.redis:
        raise UserError(
            "Submitting needs the task's code, so its module: use --huey (--redis attaches "
            "without project code, to watch and act on what is queued)."
        )

    target, journal = _load(ns)
    _shared_queue(target)
    args = _json_arg(ns.args, "args", list)
    kwargs = _json_arg(ns.kwargs, "kwargs", dict)
    task_id = Dispatcher(target.huey, journal, on_busy=_busy_notice).submit(
        ns.task,
        args,
        kwargs,
        delay=ns.delay,
        eta=ns.eta,
        priority=ns.priority,
        queue_name=ns.queue_name,
    )
    if ns.json:
        _print_json({"id": task_id})
    else:
        print(task_id)
    return EXIT_OK


def cmd_status(ns: argparse.Namespace) -> int:
    from desktop_app.core.inspector import Inspector
    from desktop_app.core.states import label

    target, journal = _load(ns, read_only=True)
    if ns.redis:
        from desktop_app.core.backends import check_attached_name

        check_attached_name(target.huey, given=not isinstance(ns.name, _Default))
    inspector = Inspector(target.huey, journal, target.spec)
    status = inspector.status(with_notes=True)
    if ns.missing_journal is not None:
        status["journal"] = str(ns.missing_journal)
        status["notes"].append(
            f"there is no journal at {ns.missing_journal} yet: no Huey Desk consumer or "
            "command has written to this queue, so task history and workers are not known."
        )
    if ns.json:
        _print_json(status)
        return EXIT_OK
    print(f"queue {status['queue']} ({status['target']}) at {status['database']}")
    print(
        f"pending {status['pending']}  scheduled {status['scheduled']}  "
        f"running {status['running']}  results {status['results']}"
    )
    counts = "  ".join(f"{label(k)} {v}" for k, v in status["counts"].items())
    print(f"finished: {counts}")
    if not status["workers"]:
        print("workers: none reporting (start one with: huey-desk consumer)")
    gone = {g["consumer"]: g for g in status["gone"]}
    for w in status["workers"]:
        if w["consumer"] in gone:
            continue  # summed up below, one line per consumer
        doing = f"{w['task']} [{w['task_id']}] since {_when(w['since'])}" if w["task"] else ""
        print(f"  {w['name']:<10} pid {w['pid']:<7} {w['state']:<8} {doing}")
    for g in gone.values():
        n = g["workers"]
        print(
            f"  consumer on {g['host']} (pid {g['pid']}) is gone, silent since "
            f"{_when(g['last_beat'])}: its {n} worker{'s' if n != 1 else ''} no longer run"
        )
    for note in status["notes"]:
        print(f"note: {note}")
    return EXIT_OK


def cmd_show(ns: argparse.Namespace) -> int:
    from desktop_app.core.inspector import Inspector
    from desktop_app.core.states import label

    target, journal = _load(ns, read_only=True)
    info = Inspector(target.huey, journal, target.spec).show(ns.id)
    if ns.json:
        _print_json(info)
        return EXIT_OK
    print(f"{info['id']}  {info['task']}  {label(info['state'])}")
    for note in info["notes"]:
        print(f"  note: {note}")
    print(f"  arguments: {info.get('args_preview') or '-'}")
    eta = info.get("eta") or (info.get("queued") or {}).get("eta")
    if eta:
        print(f"  runs at: {eta.replace('T', ' ')[:19]} (UTC)")
    priority = info.get("priority")
    if priority is None:
        priority = (info.get("queued") or {}).get("priority")
    if priority is not None:
        print(f"  priority: {priority}")
    for key in ("enqueued_at", "started_at", "finished_at"):
        if info.get(key):
            print(f"  {key.replace('_', ' ')}: {_when(info[key])}")
    if info.get("duration") is not None:
        print(f"  duration: {info['duration']:.3f}s")
    if info.get("worker"):
        print(f"  worker: {info['worker']} (pid {info.get('pid')})")
    for key in ("retry_of", "retried_as"):
        if info.get(key):
            print(f"  {key.replace('_', ' ')}: {info[key]}")
    if info.get("result") is not None or info.get("result_preview"):
        if ns.full and info.get("result") is not None:
            print(f"  result: {json.dumps(info['result'], ensure_ascii=False)}")
        else:
            print(f"  result: {info.get('result_preview') or _shorten(info['result'])}")
    django = info.get("django")
    if django:
        print(f"  django.tasks: {django['task']} {django['status']}", end="")
        print(f" on {', '.join(django['worker_ids'])}" if django["worker_ids"] else "")
    if info.get("error"):
        print(f"  error: {info['error']}")
    if info.get("traceback"):
        print("  traceback:")
        for line in info["traceback"].rstrip().splitlines():
            print(f"    {line}")
    print("  events:")
    for e in info["events"]:
        extra = ""
        if e["kind"] == "progress":
            extra = f" {e['data'].get('progress', 0):.0%} {e['data'].get('progress_message', '')}"
        print(f"    {_when(e['ts'])}  {label(e['kind']):<12} {e['worker'] or ''}{extra}")
    return EXIT_OK


def _shorten(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text)} characters; --full or --json shows all)"


def cmd_tasks(ns: argparse.Namespace) -> int:
    import os

    from desktop_app.core.catalogue import Catalogue, signature_text
    from desktop_app.core.paths import default_db_path
    from desktop_app.core.target import is_embedded

    read_only = True
    if not ns.redis and is_embedded(ns.huey, ns.path) and not default_db_path().exists():
        # Listing tasks needs their code, not the queue: the demo package is imported
        # on a throwaway queue file, so the first command of a new user neither fails
        # nor creates the real queue.
        os.environ["HUEY_DESK_DB"] = str(_scratch_dir() / "queue.db")
        read_only = False
    target, _ = _load(ns, read_only=read_only)
    catalogue = Catalogue(target.huey)
    if ns.json:
        _print_json(
            {
                "tasks": [
                    {
                        "name": t.name,
                        "short_name": t.short_name,
                        "signature": signature_text(t.signature),
                        "doc": t.doc,
                        "retries": t.retries,
                        "retry_delay": t.retry_delay,
                        "priority": t.priority,
                        "periodic": t.periodic,
                        "schedule": t.schedule,
                        "django_task": t.django_task is not None,
                    }
                    for t in catalogue
                ]
            }
        )
        return EXIT_OK
    if not list(catalogue):
        print(
            f"No tasks are registered with {target.spec}: tasks register when the module "
            "that defines them is imported, so attach to the module that imports them "
            "(e.g. --huey myproject.tasks:huey)."
        )
        return EXIT_OK
    for t in catalogue:
        extra = f"  every: {t.schedule}" if t.periodic else ""
        extra += "  (django.tasks)" if t.django_task is not None else ""
        print(f"{t.short_name}{signature_text(t.signature)}  {t.summary}{extra}")
    return EXIT_OK


def cmd_action(ns: argparse.Namespace) -> int:
    """retry, revoke, restore, run-now (retry and revoke also in bulk)."""
    if ns.command in ("retry", "revoke"):
        return cmd_bulk(ns)
    return _act_on_one(ns)


def _act_on_one(ns: argparse.Namespace) -> int:
    from desktop_app.core.dispatcher import Dispatcher
    from desktop_app.core.inspector import Inspector

    target, journal = _load(ns)
    inspector = Inspector(target.huey, journal, target.spec)
    # A typo is refused (not revoked in advance, not "not revoked"), without a full show.
    task_id = inspector.resolve_id(ns.id, must_exist=ns.command != "retry")
    dispatcher = Dispatcher(target.huey, journal, on_busy=_busy_notice)
    result: dict[str, Any] = {"id": task_id}
    if ns.command == "retry":
        result = {"id": dispatcher.retry(task_id), "retry_of": task_id}
    elif ns.command == "revoke":
        dispatcher.revoke(task_id)
        result["revoked"] = True
    elif ns.command == "run-now":
        dispatcher.run_now(task_id)
        result["run_now"] = True
    else:
        dispatcher.restore(task_id)
        result["restored"] = True
    if ns.json:
        _print_json(result)
    else:
        print(result["id"])
    return EXIT_OK


_FILTERS = ("state", "task", "since", "until", "text")


def cmd_bulk(ns: argparse.Namespace) -> int:
    """``retry`` / ``revoke``: one id as before, or many ids or a filter in bulk."""
    import signal

    from desktop_app.core.bulk import BulkAction, Selection, check_state, parse_when
    from desktop_app.core.catalogue import Catalogue
    from desktop_app.core.dispatcher import Dispatcher
    from desktop_app.core.errors import UserError
    from desktop_app.core.inspector import Inspector

    filtered = [f for f in _FILTERS if getattr(ns, f) is not None]
    if filtered and ns.id:
        raise UserError(f"Give either task ids or a filter (--{filtered[0]}), not both.")
    if not filtered and not ns.id:
        raise UserError(
            f"Give a task id, or a filter of the tasks to {ns.command}: --state, --task, "
            "--since, --until or --text."
        )
    state = check_state(ns.command, ns.state)
    since = None if ns.since is None else parse_when(ns.since)
    until = None if ns.until is None else parse_when(ns.until)
    if since is not None and until is not None and since > until:
        raise UserError(f"--since {ns.since} comes after --until {ns.until}; swap them.")
    if len(ns.id) == 1 and not ns.dry_run:
        ns.id = ns.id[0]
        return _act_on_one(ns)
    if ns.command == "retry" and ns.redis and not ns.dry_run:
        raise UserError(
            "Retrying in bulk needs the tasks' code, so their module: use --huey (--redis "
            "attaches without project code; --dry-run shows what would be retried)."
        )
    target, journal = _load(ns)
    catalogue = Catalogue(target.huey)
    task_name = None
    if ns.task is not None:
        # with --redis no task is registered here: the name is taken as the journal has it
        task_name = catalogue.get(ns.task).name if list(catalogue) else ns.task
    inspector = Inspector(target.huey, journal, target.spec)
    ids = tuple(inspector.resolve_id(i, must_exist=ns.command != "retry") for i in ns.id)
    dispatcher = Dispatcher(target.huey, journal, catalogue, on_busy=_busy_notice)
    selection = Selection(ids, state, task_name, ns.text or "", since, until)
    bulk = BulkAction(dispatcher, ns.command, selection)
    total = bulk.count()
    if ns.dry_run:
        shown = bulk.preview(ns.show)
        _print_dry_run(ns, selection, total, shown)
        return EXIT_OK
    stop: list[bool] = []
    previous = signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    try:  # Ctrl+C stops between chunks: what was done is done whole and journalled
        result = bulk.run(total, on_progress=_bulk_progress(ns), cancelled=lambda: bool(stop))
    finally:
        signal.signal(signal.SIGINT, previous)
    if ns.json:
        _print_json(
            {
                "action": ns.command,
                "total": result.total,
                "done": result.acted,
                "skipped": result.skipped,
                "refused": result.refused,
                "refusals": [{"id": i, "reason": r} for i, r in result.reasons],
                "cancelled": result.cancelled,
            }
        )
    else:
        print(result.summary())
    return 130 if result.cancelled else EXIT_OK


def _bulk_progress(ns: argparse.Namespace) -> Any:
    """Progress on stderr while a terminal watches (nothing for scripts)."""
    if ns.json or not sys.stderr.isatty():
        return None

    def report(p: Any) -> None:
        end = "\n" if p.finished else ""
        print(f"\r{p.done:,} of {p.total:,}", end=end, file=sys.stderr, flush=True)

    return report


def _print_dry_run(ns: argparse.Namespace, selection: Any, total: int, shown: list) -> None:
    from desktop_app.core.states import label

    if ns.json:
        _print_json(
            {
                "action": ns.command,
                "dry_run": True,
                "total": total,
                "tasks": [
                    {k: r.get(k) for k in ("task_id", "task_name", "state", "state_ts", "error")}
                    for r in shown
                ],
            }
        )
        return
    verb = "retry" if ns.command == "retry" else "revoke"
    tasks = f"{total:,} task{'s' if total != 1 else ''}"
    print(f"Would {verb} {tasks} ({selection.describe()}){':' if shown else '.'}")
    for r in shown:
        name = (r.get("task_name") or "?").rsplit(".", 1)[-1]
        error = _shorten(r.get("error") or "", 60)
        print(
            f"  {r['task_id']}  {name}  {label(r.get('state')) or 'unknown'}  "
            f"{_when(r.get('state_ts'))}  {error}".rstrip()
        )
    if total > len(shown):
        print(f"  ... and {total - len(shown):,} more")


def cmd_consumer(ns: argparse.Namespace) -> int:
    from desktop_app.core import consumer_options
    from desktop_app.core.consumer import configure_logging, run_consumer
    from desktop_app.core.errors import UserError
    from desktop_app.core.target import DEFAULT_TARGET, is_django_spec, load_target

    if ns.redis:
        raise UserError(
            "A consumer runs the project's tasks, so it needs their module: use --huey "
            "(--redis attaches without project code, to watch and act on the queue)."
        )
    target = load_target(ns.huey or DEFAULT_TARGET, ns.path, on_busy=_busy_notice)
    _shared_queue(target)
    if target.huey.immediate:
        raise UserError(f"{target.spec} is in immediate mode; a consumer cannot run it.")
    if ns.retain_events is not None and ns.retain_events < 1:
        raise UserError("--retain-events must be at least 1.")
    if not (math.isfinite(ns.retain_days) and ns.retain_days > 0):
        raise UserError("--retain-days must be a number of days greater than 0.")
    settings: dict[str, Any] = {}
    if is_django_spec(target.spec):  # as run_huey: settings.HUEY['consumer'], then flags
        from desktop_app.core.django_target import consumer_settings

        settings = consumer_settings(target.spec)
    flags = {
        "workers": ns.workers,
        "worker_type": ns.worker_type,
        "periodic": False if ns.no_periodic else None,
        "scheduler_interval": ns.scheduler_interval,
        "verbose": True if ns.verbose else None,
    }
    options = consumer_options.merge(settings, flags, f"settings.HUEY of {target.module}")
    own, rest, logs = consumer_options.split(options)
    configure_logging(consumer_options.log_level(logs, logging.INFO))
    consumer_options.add_log_file(logs)
    run_consumer(
        target.huey,
        target.spec,
        workers=own.get("workers", 1),
        worker_type=own.get("worker_type", "thread"),
        options=rest,
        journal_path=ns.journal,
        retain_events=ns.retain_events,
        retain_days=ns.retain_days,
        periodic=own.get("periodic", True),
        parent_pid=ns.parent_pid,
        rerun_interrupted=not ns.no_rerun_interrupted,
    )
    return EXIT_OK


def cmd_gui(ns: argparse.Namespace) -> int:
    from desktop_app.core.target import check_queue_exists

    if ns.no_consumer and not ns.redis:  # only watching: never create the default queue
        check_queue_exists(ns.huey, ns.path)
    try:
        from desktop_app.gui.app import run_gui
    except ImportError as exc:
        print(
            f"huey-desk: the window cannot start: {exc}; install PySide6-Essentials "
            "(and, on Linux, the xcb libraries listed in the README).",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return run_gui(ns)


def cmd_metrics(ns: argparse.Namespace) -> int:
    import signal
    import threading

    from desktop_app.core.inspector import Inspector
    from desktop_app.core.metrics import MetricsServer

    target, journal = _load(ns, read_only=True)
    inspector = Inspector(target.huey, journal, target.spec)
    server = MetricsServer(  # a port in use: a UserError, one sentence and exit 2
        inspector,
        journal,
        ns.port,
        ns.bind,
        say=lambda text: print(f"huey-desk: {text}", file=sys.stderr, flush=True),
    )
    print(
        f"serving metrics of queue {target.huey.name} at http://{ns.bind}:{server.port}/metrics "
        "(Ctrl+C stops)",
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.close()
    return EXIT_OK


def cmd_watch(ns: argparse.Namespace) -> int:
    import signal
    import threading

    from desktop_app.core.alerts import AlertFeed, load_rules, rules_path
    from desktop_app.core.inspector import Inspector
    from desktop_app.core.metrics import storage_fault

    target, journal = _load(ns, read_only=True)
    feed = AlertFeed(Inspector(target.huey, journal, target.spec), load_rules())
    if not ns.json:
        print(
            f"watching queue {target.huey.name} by the rules in {rules_path()} (Ctrl+C stops)",
            flush=True,
        )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    fault: str | None = None
    every = max(ns.every, 0.05)
    while not stop.is_set():
        try:
            changes = feed.poll()
        except Exception as exc:
            now = storage_fault(exc)
            if now is None:
                raise
            if now != fault:
                print(f"huey-desk: {now}", file=sys.stderr, flush=True)
            fault = now
            stop.wait(min(every * 4, 8.0))  # storage is away: look less often
            continue
        if fault is not None:
            print("huey-desk: storage answers again.", file=sys.stderr, flush=True)
            fault = None
        for alert in changes:
            _print_alert(alert, ns.json)
        stop.wait(every)
    return EXIT_OK


def _print_alert(alert, as_json: bool) -> None:
    if as_json:
        event = "cleared" if alert.cleared_at is not None else "fired"
        print(json.dumps({"event": event, **alert.as_dict()}), flush=True)
        return
    if alert.cleared_at is None:
        print(f"{_when(alert.fired_at)}  FIRED    {alert.rule}: {alert.message}", flush=True)
    else:
        print(f"{_when(alert.cleared_at)}  CLEARED  {alert.rule}", flush=True)


COMMANDS = {
    "gui": cmd_gui,
    "consumer": cmd_consumer,
    "submit": cmd_submit,
    "status": cmd_status,
    "metrics": cmd_metrics,
    "watch": cmd_watch,
    "show": cmd_show,
    "tasks": cmd_tasks,
    "retry": cmd_action,
    "revoke": cmd_action,
    "restore": cmd_action,
    "run-now": cmd_action,
}


def _one_line(text: str) -> str:
    """The message with control characters escaped: user text inside it (an id, a file
    name) cannot break it over lines or move the cursor."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _one_stop(text: str) -> str:
    """The sentence with one final full stop: a message built around another one (an
    exception's text that ends in a stop) must not end in two."""
    text = text.rstrip()
    while text.endswith("..") and not text.endswith("..."):
        text = text[:-1]
    return text


def _check_text(ns: argparse.Namespace) -> None:
    """Refuse arguments with bytes that are not UTF-8 (Python keeps them as lone
    surrogates, which neither SQLite nor a task should be handed); --path is exempt."""
    from desktop_app.core.errors import UserError

    for name, value in vars(ns).items():
        if name == "path":
            continue  # a folder name may be any bytes; Python imports from it as is
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    option = name.replace("_", "-")
                    raise UserError(
                        f"The {option} given is not valid UTF-8 text; check the terminal's "
                        "encoding or type it again."
                    ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``huey-desk`` command and return its exit code."""
    from desktop_app.core.errors import UserError

    for stream in (sys.stdout, sys.stderr):  # never fail on text a terminal cannot show
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["gui", *argv]
    ns = parser.parse_args(argv)
    try:
        _check_text(ns)
        _django_target(ns)
        return COMMANDS[ns.command](ns)
    except UserError as exc:
        print(f"huey-desk: {_one_line(_one_stop(str(exc)))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        from desktop_app.core.storage_errors import explain

        explained = explain(exc, _where.get("queue", "in use"))
        if explained is not None:  # a storage fault met outside a guarded call
            print(f"huey-desk: {_one_line(str(explained))}", file=sys.stderr)
            return explained.exit_code
        print(f"huey-desk: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        logging.getLogger("huey_desk").debug("unexpected error", exc_info=True)
        return EXIT_FAILURE
