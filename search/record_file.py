"""Making a search record's file: whole or not at all.

A record is created under a temporary name (schema and first ``meta`` rows in one transaction,
the file closed so its WAL is folded in) and renamed into place, so a search killed within
milliseconds of ``search.sqlite`` appearing still leaves a record that holds its configuration.
A file left by a lutnas that created records in place and was killed while doing so (tables or
``meta`` rows missing, no candidate in it) is recognised as unfinished and made anew; anything
else that is not a record is refused by :class:`search.record.SearchRecord`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from lutnas.atomicfile import SQLITE_SIDE_FILES, sweep_stale_of, sync_directory, temp_path
from lutnas.errors import LutnasError
from lutnas.sqlite import connect, transaction


def make_directory(directory: Path) -> None:
    """Create the record's directory (``--out``), or say why it cannot be one.

    Raises:
        LutnasError: ``directory`` (or a parent) is a file, or cannot be created.
    """
    if directory.exists() and not directory.is_dir():
        raise LutnasError(
            f"--out {directory} is a file; a search writes a directory of files: give a "
            "directory (new or holding a search)"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LutnasError(
            f"cannot make the output directory {directory}: {exc.strerror} "
            f"({exc.filename}); give another --out"
        ) from None


def has_record(path: Path) -> bool:
    """Whether ``path`` holds a record (or something else that is no unfinished one): False
    when it is missing, empty, or left unfinished by an interrupted creation."""
    if not path.exists():
        return False
    if path.stat().st_size == 0 and not _side(path, "-wal").exists():
        return False  # an empty file holds nothing to keep
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error:
        return True  # the record code says what it is not
    try:
        return not _unfinished(conn)
    except sqlite3.DatabaseError:
        return True
    finally:
        conn.close()


def _unfinished(conn: sqlite3.Connection) -> bool:
    """No ``config`` in ``meta`` and no candidate anywhere: a creation that was cut short."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" in tables:
        keys = {r[0] for r in conn.execute("SELECT key FROM meta")}
        if "config" in keys and "format" in keys:
            return False
    for table in ("evaluations", "history"):
        if table in tables and conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]:
            return False
    return True


def create_record(path: Path, schema: str, meta: dict[str, str]) -> None:
    """Write a new record (``schema``, then the ``meta`` rows, JSON text) at ``path``,
    replacing an unfinished one: made whole under a temporary name, then renamed."""
    sweep_stale_of(path)
    tmp = temp_path(path)
    _remove(tmp)
    try:
        conn = connect(tmp)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(schema)
            with transaction(conn):
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta.items()
                )
        finally:
            conn.close()  # the last connection folds the WAL into the file and removes it
        for suffix in SQLITE_SIDE_FILES:  # an unfinished record's WAL must not meet the new file
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_side(path, suffix))
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    sync_directory(path.parent)


def _side(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _remove(path: Path) -> None:
    for file in (path, *(_side(path, s) for s in SQLITE_SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(file)
