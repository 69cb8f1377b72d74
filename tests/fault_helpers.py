"""Fault injection for the tests: a lock held by another process, read-only paths."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
print("released", flush=True)
"""


class Locker:
    """Another process that holds ``BEGIN EXCLUSIVE`` on a database until released."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "locked"  # blocks until it holds it
        self.released = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "released"
        self.proc.wait(10)
        self.proc.stdin.close()
        self.proc.stdout.close()

    def __enter__(self) -> Locker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` (a file or a folder) unwritable, even for root, while in the block.

    Root ignores permission bits, so as root the immutable attribute is used
    (``chattr +i``); the test is skipped where that is not possible.
    """
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root, which ignores permissions, and chattr is missing")
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"running as root and chattr +i failed: {done.stderr.strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)


def damage(db: Path, from_page: int = 2, page_size: int = 4096) -> None:
    """Overwrite the start of every page after ``from_page`` with garbage."""
    data = bytearray(db.read_bytes())
    for offset in range(page_size * from_page, len(data), page_size):
        data[offset : offset + 100] = bytes(range(100))
    db.write_bytes(bytes(data))
