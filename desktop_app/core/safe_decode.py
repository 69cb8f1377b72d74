"""Read queue messages and results without running code from the database.

Huey stores pickles, and ``pickle.loads`` on a crafted blob runs any code it names.  The
monitor therefore unpickles through an allow-list: plain data types and Huey's own
message tuples are rebuilt; any other class or function named by the pickle is replaced
by an inert ``Undecodable`` stand-in that records its name and is never called.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import io
import pathlib
import pickle
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from huey.registry import Message
from huey.serializer import Serializer, SignedSerializer, is_compressed
from huey.utils import Error

from desktop_app.core.django_tasks import carried

# Only constructors whose cost is bounded by the size of the pickle itself: ``range``,
# ``slice``, ``deque`` and ``bytearray`` are left out (``bytearray(10**9)`` allocates a
# gigabyte from a few bytes of pickle; deeply nested slices crashed the interpreter).
_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("datetime", "datetime"): datetime.datetime,
    ("datetime", "date"): datetime.date,
    ("datetime", "time"): datetime.time,
    ("datetime", "timedelta"): datetime.timedelta,
    ("datetime", "timezone"): datetime.timezone,
    ("decimal", "Decimal"): decimal.Decimal,
    ("fractions", "Fraction"): fractions.Fraction,
    ("uuid", "UUID"): uuid.UUID,
    ("uuid", "SafeUUID"): uuid.SafeUUID,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("pathlib", "PosixPath"): pathlib.PurePosixPath,
    ("pathlib", "PurePosixPath"): pathlib.PurePosixPath,
    ("pathlib", "WindowsPath"): pathlib.PureWindowsPath,
    ("pathlib", "PureWindowsPath"): pathlib.PureWindowsPath,
    ("huey.registry", "Message"): Message,
    ("huey.utils", "Error"): Error,
}


class Undecodable:
    """Stands in for an object whose type the monitor refuses to construct."""

    type_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Undecodable:
        self = object.__new__(cls)
        self.__dict__["_items"] = []
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<{self.type_name}: not decoded>"


_stubs: dict[str, type[Undecodable]] = {}
MAX_STUBS = 1000  # distinct names remembered; a pickle cannot grow this cache for ever
MAX_BLOB = 64 * 1024 * 1024  # larger rows are not decoded at all
MAX_INFLATED = 64 * 1024 * 1024  # nor decompressed beyond this (a compression bomb)
TAMPERED = "signature does not match (tampered; Huey will not run it)"


def _stub(module: str, name: str) -> type[Undecodable]:
    qualname = f"{module}.{name}"[:200]
    cls = _stubs.get(qualname)
    if cls is None:
        cls = type("Undecodable", (Undecodable,), {"type_name": qualname})
        if len(_stubs) < MAX_STUBS:
            _stubs[qualname] = cls
    return cls


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.refused: list[str] = []

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is not None:
            return allowed
        self.refused.append(f"{module}.{name}")
        return _stub(module, name)

    def persistent_load(self, pid: Any) -> Any:
        self.refused.append("persistent id")
        return _stub("persistent", "id")()


@dataclass
class Decoded:
    """The result of a safe decode: the value, or why there is none."""

    value: Any = None
    ok: bool = True
    error: str | None = None
    tampered: bool = False
    refused: list[str] = field(default_factory=list)


def _unwrap(serializer: Any, data: bytes) -> bytes:
    """Undo compression and signing as ``serializer`` would, without unpickling."""
    if getattr(serializer, "comp", False) and is_compressed(data):
        inflater = zlib.decompressobj(zlib.MAX_WBITS if serializer.use_zlib else 31)
        data = inflater.decompress(data, MAX_INFLATED)
        if inflater.unconsumed_tail:
            raise _TooLarge
    if isinstance(serializer, SignedSerializer):
        try:
            data = serializer._unsign(data)
        except ValueError as exc:
            # Keep what the message claims to be, for display only: the safe unpickler
            # can read it without trusting it; Huey's consumer will refuse to run it.
            sep = getattr(serializer, "separator", b":")
            payload = data.rsplit(sep, 1)[0] if sep in data else None
            raise _Tampered(str(exc), payload) from None
    return data


class _Tampered(Exception):
    def __init__(self, reason: str, payload: bytes | None) -> None:
        super().__init__(reason)
        self.payload = payload


class _TooLarge(Exception):
    pass


def is_pickling(serializer: Any) -> bool:
    """True for Huey's own (pickle) serializers, not for subclasses that change the format."""
    kind = type(serializer)
    return (
        isinstance(serializer, Serializer)
        and kind._deserialize in (Serializer._deserialize, SignedSerializer._deserialize)
        and kind.deserialize is Serializer.deserialize
    )


def decode(serializer: Any, data: bytes | memoryview | None) -> Decoded:
    """Decode a blob written by ``serializer`` (a Huey ``Serializer``) safely."""
    if data is None:
        return Decoded(None, ok=False, error="no data")
    if len(data) > MAX_BLOB:
        return Decoded(None, ok=False, error=f"too large to decode ({len(data)} bytes)")
    blob = bytes(data)
    if not is_pickling(serializer):
        return Decoded(None, ok=False, error=f"custom serializer {type(serializer).__name__}")
    try:
        raw = _unwrap(serializer, blob)
    except _Tampered as exc:
        claimed = _safe_load(exc.payload).value if exc.payload is not None else None
        return Decoded(claimed, ok=False, error=TAMPERED, tampered=True)
    except _TooLarge:
        return Decoded(None, ok=False, error="decompresses to more than 64 MB")
    except (OSError, EOFError, zlib.error) as exc:
        return Decoded(None, ok=False, error=f"cannot decompress: {exc}")
    return _safe_load(raw)


def _safe_load(raw: bytes) -> Decoded:
    unpickler = _SafeUnpickler(raw)
    try:
        value = unpickler.load()
    except RecursionError:
        return Decoded(None, ok=False, error="nested too deeply")
    except Exception as exc:
        return Decoded(None, ok=False, error=f"not a valid pickle ({type(exc).__name__})")
    return Decoded(value, ok=True, refused=unpickler.refused)


@dataclass
class MessageView:
    """What the monitor shows of one queued message."""

    id: str | None
    name: str | None
    args: Any = ()
    kwargs: Any = field(default_factory=dict)
    eta: datetime.datetime | None = None
    priority: float | None = None
    retries: int | None = None
    expires: Any = None
    ok: bool = True
    error: str | None = None
    tampered: bool = False


def decode_message(serializer: Any, data: bytes | memoryview | None) -> MessageView:
    """Decode one queue row into a ``MessageView``; bad rows say why instead of raising."""
    decoded = decode(serializer, data)
    msg = decoded.value
    if decoded.tampered and isinstance(msg, Message):
        # What it claims to be (id, task, arguments), shown with the warning.
        view = _view(msg, [])
        view.ok, view.error, view.tampered = False, decoded.error, True
        return view
    if not decoded.ok:
        return MessageView(None, None, ok=False, error=decoded.error, tampered=decoded.tampered)
    if not isinstance(msg, Message):
        kind = type(msg).__name__
        if isinstance(msg, Undecodable):
            kind = msg.type_name
        return MessageView(None, None, ok=False, error=f"not a Huey message ({kind})")
    return _view(msg, decoded.refused)


def _view(msg: Message, refused: list[str]) -> MessageView:
    eta = msg.eta if isinstance(msg.eta, datetime.datetime) else None
    # a djtasks.run message is shown as the django.tasks task it carries
    name, args, kwargs = carried(msg.name, msg.args, msg.kwargs)
    return MessageView(
        id=msg.id if isinstance(msg.id, str) else None,
        name=name if isinstance(name, str) else None,
        args=args if args is not None else (),
        kwargs=kwargs if kwargs is not None else {},
        eta=eta,
        priority=msg.priority if isinstance(msg.priority, (int, float)) else None,
        retries=msg.retries if isinstance(msg.retries, int) else None,
        expires=msg.expires,
        ok=not refused,
        error=("contains objects not decoded: " + ", ".join(sorted(set(refused))))
        if refused
        else None,
    )
