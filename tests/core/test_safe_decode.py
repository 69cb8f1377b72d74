"""The monitor never runs code from the queue: crafted pickles stay inert."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import uuid

import pytest
from huey import SqliteHuey
from huey.serializer import SignedSerializer

from desktop_app.core.safe_decode import Undecodable, decode, decode_message


class _Exploit:
    """Unpickling this with pickle.loads would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_crafted_pickle_creates_nothing(huey, tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps(_Exploit(marker))
    decoded = decode(huey.serializer, blob)
    assert decoded.ok
    assert isinstance(decoded.value, Undecodable)
    assert "system" in repr(decoded.value)
    assert not marker.exists()
    view = decode_message(huey.serializer, blob)
    assert not view.ok and "not a Huey message" in view.error


def test_crafted_argument_inside_a_real_message(huey, tmp_path):
    marker = tmp_path / "pwned2"
    add = huey.test_tasks["add"]
    task = add.s(1, 2)
    task.args = (_Exploit(marker),)
    blob = huey.serialize_task(task)
    view = decode_message(huey.serializer, blob)
    assert view.id == task.id
    assert view.name.endswith(".add")
    assert not view.ok and "posix.system" in view.error
    assert not marker.exists()


def test_plain_message_decodes_fully(huey):
    paint = huey.test_tasks["paint"]
    task = paint.s("red", when=dt.date(2026, 1, 2))
    task.eta = dt.datetime(2030, 1, 1)
    view = decode_message(huey.serializer, huey.serialize_task(task))
    assert view.ok
    assert view.args == ("red",)
    assert view.kwargs == {"when": dt.date(2026, 1, 2)}
    assert view.eta == dt.datetime(2030, 1, 1)
    assert view.priority == 7


def test_garbage_is_reported_not_raised(huey):
    for blob in (b"", b"\x80\x05garbage", b"not a pickle at all", None):
        view = decode_message(huey.serializer, blob)
        assert not view.ok and view.error


def test_compressed_and_signed_messages(tmp_path):
    signed = SqliteHuey(
        "s",
        filename=str(tmp_path / "s.db"),
        compression=True,
        serializer=SignedSerializer(secret="k", compression=True),
    )

    @signed.task()
    def hello(name: str) -> str:
        return name

    blob = signed.serialize_task(hello.s("x"))
    assert decode_message(signed.serializer, blob).args == ("x",)
    corrupt = decode_message(signed.serializer, blob[:-3] + b"abc")
    assert not corrupt.ok and corrupt.error
    signed.storage.close()


def test_tampered_signed_message_is_flagged(tmp_path):
    signed = SqliteHuey(
        "s", filename=str(tmp_path / "s.db"), serializer=SignedSerializer(secret="k")
    )

    @signed.task()
    def hello(name: str) -> str:
        return name

    blob = signed.serialize_task(hello.s("x"))
    assert decode_message(signed.serializer, blob).args == ("x",)
    view = decode_message(signed.serializer, blob.replace(b"x", b"y", 1))
    assert view.tampered and not view.ok and "signature" in view.error
    signed.storage.close()


@pytest.mark.parametrize(
    "value", [1, "s", [1, 2], {"a": {1, 2}}, uuid.uuid4(), dt.timedelta(3), frozenset({1})]
)
def test_allowed_values_round_trip(huey, value):
    assert decode(huey.serializer, huey.serializer.serialize(value)).value == value


def _reduce_pickle(module: str, name: str, args: tuple) -> bytes:
    """A protocol-2 pickle that calls module.name(*args) when loaded naively."""
    inner = pickle.dumps(args, protocol=2)[2:-1]  # the args tuple's opcodes
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + inner + b"R."


def test_costly_constructors_are_not_called(huey):
    for module, name, args in (
        ("builtins", "bytearray", (10**9,)),
        ("collections", "deque", ((), 0)),
        ("builtins", "range", (10**15,)),
        ("builtins", "slice", (1, 2)),
    ):
        decoded = decode(huey.serializer, _reduce_pickle(module, name, args))
        assert isinstance(decoded.value, Undecodable), name


def test_compression_bomb_is_refused(tmp_path):
    import gzip

    packed = SqliteHuey("z", filename=str(tmp_path / "z.db"), compression=True)
    bomb = gzip.compress(b"\0" * (80 * 1024 * 1024))
    decoded = decode(packed.serializer, bomb)
    assert not decoded.ok and "64 MB" in decoded.error
    packed.storage.close()


def test_custom_serializer_subclass_is_not_unpickled(huey):
    import json as _json

    from huey.serializer import Serializer

    class JsonSerializer(Serializer):
        def _serialize(self, data):
            return _json.dumps(data).encode()

        def _deserialize(self, data):
            return _json.loads(data)

    decoded = decode(JsonSerializer(), b'{"a": 1}')
    assert not decoded.ok and "custom serializer JsonSerializer" in decoded.error
