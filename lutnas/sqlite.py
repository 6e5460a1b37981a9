"""SQLite as lutnas uses it for LUTs and search records: autocommit, so every write is durable
when it returns, and explicit transactions where several writes must land together.

Text that is not valid UTF-8 (a damaged byte) is read with the bad bytes escaped rather than
failing the whole query, so the row it is in can be found and reported by the checks above.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from lutnas.errors import LutnasError


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def connect(path: str | Path) -> sqlite3.Connection:
    """An autocommit connection with rows addressable by column name."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.text_factory = _text
    return conn


class _PrivateCopy(sqlite3.Connection):
    """A connection to a copy of a file in a private directory, removed when it closes."""

    copy_dir: str | None = None

    def close(self) -> None:
        super().close()
        if self.copy_dir is not None:
            shutil.rmtree(self.copy_dir, ignore_errors=True)
            self.copy_dir = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """A read-only connection, also on read-only storage.

    ``mode=ro`` first (it sees a concurrent writer's commits). Where that cannot work (a WAL
    file whose directory is read-only, so SQLite cannot make its shared-memory file): without
    a ``-wal`` file beside it the file is opened ``immutable``, which is right there because
    nobody can be writing it; with one (a writer killed before its last checkpoint), its
    commits are only in that WAL, which ``immutable`` would ignore, so the file and its WAL are
    read from a private copy instead.

    Raises:
        sqlite3.OperationalError: the file cannot be read either way.
        LutnasError: the file has a WAL that cannot be copied to be read.
    """
    path = Path(path).resolve()
    uri = "file:" + urllib.parse.quote(str(path))
    try:
        return _readable(f"{uri}?mode=ro")
    except sqlite3.OperationalError as exc:
        first = exc
    wal = Path(f"{path}-wal")
    if not (wal.is_file() and wal.stat().st_size > 0):
        return _readable(f"{uri}?immutable=1")
    if not os.access(path, os.R_OK):
        raise first
    return _private_copy(path, wal)


def _private_copy(path: Path, wal: Path) -> sqlite3.Connection:
    root = os.environ.get("TMPDIR") or None
    copy_dir = tempfile.mkdtemp(prefix="lutnas-wal-", dir=root)
    try:
        copy = Path(copy_dir) / path.name
        shutil.copyfile(path, copy)
        shutil.copyfile(wal, f"{copy}-wal")
        conn = _readable("file:" + urllib.parse.quote(str(copy)) + "?mode=ro", factory=_PrivateCopy)
    except (OSError, sqlite3.Error) as exc:
        shutil.rmtree(copy_dir, ignore_errors=True)
        raise LutnasError(
            f"{path} has a write-ahead log ({wal.name}) with changes not yet in the file, left "
            "by a writer that stopped early, and it can be read neither in place (the "
            f"directory is read-only here) nor from a copy in {tempfile.gettempdir()} ({exc}). "
            "Open it once where its directory is writable (any read merges the log), or set "
            "TMPDIR to a directory with room"
        ) from None
    conn.copy_dir = copy_dir
    return conn


def _readable(uri: str, factory: type[sqlite3.Connection] = sqlite3.Connection):
    conn = sqlite3.connect(
        uri, uri=True, isolation_level=None, timeout=30, check_same_thread=False, factory=factory
    )
    conn.row_factory = sqlite3.Row
    conn.text_factory = _text
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
