"""The LUT file's small helpers: timestamps, metadata rows, path checks, and how a damaged file
is told apart from a file that is no LUT at all (:func:`integrity_problem`)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from lut.schema import FORMAT, SCHEMA_SQL, SCHEMA_VERSION
from lutnas.atomicfile import SQLITE_SIDE_FILES, sweep_stale, temp_path
from lutnas.errors import LutnasError
from lutnas.sqlite import connect, transaction

# the temporary files this package makes beside a LUT: a new file (write_new_file) and a repaired
# copy (lut.repair)
TEMP_TAGS = ("new", "repair")

if TYPE_CHECKING:
    import pandas as pd


def read_sql(query: str, conn: sqlite3.Connection, params: list | None = None) -> pd.DataFrame:
    import pandas as pd  # loaded on demand: profiling never needs it

    return pd.read_sql_query(query, conn, params=params)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def with_defaults(settings: dict) -> dict:
    """Settings as compared on resume; files from before drift correction had it off."""
    return {"drift_correction": False, **settings}


def refuse_directory(path: Path) -> None:
    """Refuse a directory, a device or anything else that is not (or cannot become) a file."""
    if path.is_dir():
        raise LutnasError(
            f"{path} is a directory; a LUT is one file: give a file name, e.g. {path / 'host.lut'}"
        )
    if path.exists() and not path.is_file():
        kind = "a device" if path.is_char_device() or path.is_block_device() else "not a file"
        raise LutnasError(
            f"{path} is {kind}, not a LUT file; give a file name for the LUT, e.g. host.lut"
        )


_DAMAGE_WORDS = ("malformed", "not a database", "decode", "corrupt")


def read_failure(path: Path, exc: sqlite3.Error) -> str:
    """The error of a read SQLite could not do: damage (with the recovery), or the reason."""
    if any(word in str(exc).lower() for word in _DAMAGE_WORDS):
        return damaged_message(path, str(exc), "a read failed")
    return (
        f"cannot read {path} ({exc}); check that the file is still there and readable, "
        "then run the command again"
    )


def write_failure(path: Path, exc: sqlite3.Error) -> str:
    """The error of a write SQLite could not do, naming the file and what to do."""
    text = str(exc)
    if any(word in text.lower() for word in ("full", "no space", "quota")):
        return (
            f"cannot write {path}: the disk is full ({text}); free space on the disk that "
            f"holds {path.parent}, then run the same command again: every row finished so far "
            "is saved"
        )
    if "readonly" in text.lower() or "read-only" in text.lower():
        return (
            f"cannot write {path}: it is open read-only here ({text}); write to a LUT on "
            "writable storage (e.g. another --out)"
        )
    if any(word in text.lower() for word in _DAMAGE_WORDS):
        return damaged_message(path, text, "a write failed")
    return (
        f"cannot write {path} ({text}); check the disk and the file's permissions, then run "
        "the same command again: every row finished so far is saved"
    )


def may_write(path: Path) -> bool:
    """Whether this process may write ``path`` and create its journal files beside it."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def put_meta(conn: sqlite3.Connection, key: str, value: object) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True))
    )


def describe_diff(
    stored: dict, wanted: dict, stored_label: str = "file has", wanted_label: str = "this run"
) -> str:
    """``key: file has X, this run Y`` for every value that differs (empty: none)."""
    keys = sorted(set(stored) | set(wanted))
    return ", ".join(
        f"{k}: {stored_label} {stored.get(k)!r}, {wanted_label} {wanted.get(k)!r}"
        for k in keys
        if stored.get(k) != wanted.get(k)
    )


def integrity_problem(conn: sqlite3.Connection) -> str | None:
    """What SQLite's ``integrity_check`` finds wrong with the open file (None: nothing).

    A damaged page often makes the check itself fail; that failure is the finding then.
    """
    try:
        check = [r[0] for r in conn.execute("PRAGMA integrity_check(20)").fetchall()]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if check == ["ok"]:
        return None
    lines = [line for text in check for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("***")]
    return "; ".join(lines[:3]) + (f"; ... ({len(lines)} findings)" if len(lines) > 3 else "")


def is_lut_meta(conn: sqlite3.Connection) -> bool:
    """Whether the file's ``meta`` table is readable and marks a lutnas LUT."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        return row is not None and json.loads(row[0]) == FORMAT
    except (sqlite3.DatabaseError, json.JSONDecodeError):
        return False


def damaged_message(path: Path, problem: str, finding: str = "integrity check failed") -> str:
    """The error of a LUT whose pages are damaged: the damage, and the recovery that works."""
    new = path.with_name(f"{path.stem}.repaired{path.suffix or '.lut'}")
    return (
        f"{path} is damaged: {finding} ({problem}). The file is left as it is; "
        f"copy every row that can still be read into a new LUT with: lutnas lut repair {path} "
        f"--out {new}, then run your profile-device command again with --out {new}: it "
        "resumes and re-measures the rows that were lost"
    )


def not_a_lut_message(path: Path, problem: str) -> str:
    """The error of a file SQLite cannot read as a LUT: damage (with the recovery) when its pages
    still hold a LUT's tables, else not a LUT at all."""
    from lut.pages import looks_like_lut  # reads the pages only when SQLite could not

    if looks_like_lut(path):
        return damaged_message(path, problem, "SQLite cannot read it")
    return (
        f"{path} is not a lutnas LUT file ({problem}); it may be corrupt or another format. "
        "Point to a file written by profile-device, or profile again into a new --out."
    )


def sweep_temp_files(path: Path) -> list[Path]:
    """Remove the temporary files that killed writers of ``path`` left beside it."""
    return sweep_stale(path.parent, f".{path.name}.", TEMP_TAGS)


def _has_lut_tables(conn: sqlite3.Connection) -> bool:
    """Whether the open file has a LUT's tables and its backend configuration."""
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        config = conn.execute("SELECT 1 FROM meta WHERE key = 'backend_config'").fetchone()
    except sqlite3.DatabaseError:
        return False
    return {"meta", "layers", "models"} <= tables and config is not None


def checked_meta(conn: sqlite3.Connection, path: Path) -> dict:
    """The metadata of the LUT open on ``conn``, after the integrity check; ``conn`` is closed
    when this raises.

    Raises:
        LutnasError: the file is damaged (naming the recovery), not a lutnas LUT, or written by
            a newer lutnas.
    """
    problem = integrity_problem(conn)
    if problem is not None:
        damaged = is_lut_meta(conn)
        conn.close()
        if damaged:
            raise LutnasError(damaged_message(path, problem))
        raise LutnasError(not_a_lut_message(path, problem))
    try:
        rows = conn.execute("SELECT key, value FROM meta").fetchall()
        meta = {r["key"]: json.loads(r["value"]) for r in rows}
    except (sqlite3.DatabaseError, json.JSONDecodeError) as exc:
        conn.close()
        raise LutnasError(not_a_lut_message(path, str(exc))) from None
    if meta.get("format") != FORMAT:
        ours = _has_lut_tables(conn)
        conn.close()
        if ours:
            marker = f"it reads {meta.get('format')!r}"
            raise LutnasError(damaged_message(path, marker, "its format marker is damaged"))
        raise LutnasError(f"{path} is an SQLite file but not a lutnas LUT (no format marker)")
    if meta.get("schema_version", 0) > SCHEMA_VERSION:
        conn.close()
        raise LutnasError(
            f"{path} was written by a newer lutnas (schema "
            f"{meta['schema_version']}); upgrade lutnas to read it"
        )
    return meta


def write_new_file(path: Path, meta: dict) -> None:
    """Make a LUT file at ``path`` with its schema and ``meta``, never overwriting.

    The file is made under a temporary name, complete, and then linked to ``path``: a reader
    never sees a half-made LUT, and of two processes creating the same file one gets it and the
    other an error.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path, "new")
    conn = None
    try:
        conn = connect(tmp)
        conn.executescript(SCHEMA_SQL)
        with transaction(conn):
            for key, value in meta.items():
                put_meta(conn, key, value)
        conn.close()
        os.link(tmp, path)  # fails if path appeared meanwhile: never overwrites
    except FileExistsError:
        raise LutnasError(
            f"{path} was created by another process just now; resume into it or choose "
            "another --out"
        ) from None
    except sqlite3.DatabaseError as exc:
        raise LutnasError(write_failure(path, exc)) from None
    except OSError as exc:
        raise LutnasError(
            write_failure(path, sqlite3.OperationalError(exc.strerror or str(exc)))
        ) from None
    finally:
        if conn is not None:
            conn.close()
        for leftover in (tmp, *(Path(f"{tmp}{side}") for side in SQLITE_SIDE_FILES)):
            leftover.unlink(missing_ok=True)
