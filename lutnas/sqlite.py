"""SQLite as lutnas uses it for LUTs and search records: autocommit, so every write is durable
when it returns, and explicit transactions where several writes must land together."""

from __future__ import annotations

import contextlib
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path


def connect(path: str | Path) -> sqlite3.Connection:
    """An autocommit connection with rows addressable by column name."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """A read-only connection, also on read-only storage.

    ``mode=ro`` first (it sees a concurrent writer's commits); where that cannot work (a WAL
    file whose directory is read-only, so SQLite cannot make its shared-memory file) the file is
    opened ``immutable``, which is right there because nobody can be writing it.

    Raises:
        sqlite3.OperationalError: the file cannot be read either way.
    """
    uri = "file:" + urllib.parse.quote(str(Path(path).resolve()))
    try:
        return _readable(f"{uri}?mode=ro")
    except sqlite3.OperationalError:
        return _readable(f"{uri}?immutable=1")


def _readable(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        raise
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """All writes inside land together or not at all."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
