"""Recovering a damaged LUT file: every row SQLite can still read goes into a new LUT.

A damaged page (a disk or copy error, a file cut short) makes SQLite refuse whole queries, so
neither ``DELETE`` nor a plain export works on such a file. :func:`repair` reads it row by row
instead: the row ids are gathered from the table and from its key index (either may be the
damaged one), each row is read on its own, and a row that cannot be read, or reads back as
nonsense, is reported as lost. The new file has the old one's backend configuration, device and
settings, so the profile-device command that made the old file resumes into the new one and
re-measures exactly the lost rows. The damaged file is never changed.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from lut.schema import LAYER_COLUMNS, MODEL_COLUMNS, insert_sql
from lut.spec import LayerSpec
from lut.store import LutStore
from lut.store_util import now, put_meta
from lutnas.errors import LutnasError
from lutnas.sqlite import connect_readonly, transaction

# table -> (key column, columns written to the new file)
_TABLES = {"layers": ("key", LAYER_COLUMNS), "models": ("arch_key", MODEL_COLUMNS)}
_KEPT_META = ("format", "schema_version", "tool_version", "backend_config", "device", "settings")


@dataclass
class Repaired:
    """What :func:`repair` copied, and what it could not (keys, or ``rowid N`` where the key
    itself was unreadable)."""

    path: Path
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    lost: dict[str, list[str]] = field(default_factory=dict)  # table -> keys not copied


def repair(path: str | Path, out: str | Path) -> Repaired:
    """Copy every readable row of the LUT at ``path`` into a new LUT at ``out``.

    Raises:
        LutnasError: ``out`` exists, or ``path``'s metadata (its backend configuration) cannot
            be read, so its rows cannot be attributed to a device and backend.
    """
    path, out = Path(path), Path(out)
    if not path.is_file():
        raise LutnasError(f"no LUT file at {path}")
    if out.exists():
        raise LutnasError(f"{out} already exists; give a new file as --out")
    try:
        conn = connect_readonly(path)
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        config = {k: json.loads(meta[k]) for k in _KEPT_META}
    except (sqlite3.DatabaseError, KeyError, ValueError) as exc:
        raise LutnasError(
            f"the metadata of {path} cannot be read ({exc}), so its rows cannot be attributed "
            "to a device and backend; profile again into a new --out"
        ) from None
    try:
        result = Repaired(out)
        tables = {}
        for table, (key_column, columns) in _TABLES.items():
            rows, lost = _readable_rows(conn, table, key_column)
            tables[table] = (columns, rows)
            result.rows[table], result.lost[table] = len(rows), lost
        _, references = _readable_rows(conn, "reference", None)
    finally:
        conn.close()
    _write(out, config, meta, tables, references, path, result)
    return result


def _scan(conn: sqlite3.Connection, sql: str) -> list[tuple]:
    """The rows of ``sql`` up to the first damaged page."""
    out = []
    try:
        for row in conn.execute(sql):
            out.append(tuple(row))
    except sqlite3.DatabaseError:
        pass
    return out


def _readable_rows(
    conn: sqlite3.Connection, table: str, key_column: str | None
) -> tuple[list[dict], list[str]]:
    """(readable rows of ``table`` as dicts, keys of the rows that are not)."""
    rowids = {r[0]: None for r in _scan(conn, f"SELECT rowid FROM {table} NOT INDEXED")}
    if key_column is not None:  # the key index also holds every row id, with its key
        index = f"sqlite_autoindex_{table}_1"
        for key, rowid in _scan(
            conn, f"SELECT {key_column}, rowid FROM {table} INDEXED BY {index}"
        ):
            rowids[rowid] = key
    rows, lost, seen = [], [], set()
    for rowid, key in sorted(rowids.items()):
        try:
            row = conn.execute(f"SELECT * FROM {table} NOT INDEXED WHERE rowid = ?", (rowid,))
            row = row.fetchone()
        except sqlite3.DatabaseError:
            row = None
        row = dict(row) if row is not None else None
        if key_column is None:
            if row is not None:
                rows.append(row)
            continue
        if row is None or not _sound(table, row) or row[key_column] in seen:
            lost.append(key if isinstance(key, str) else f"rowid {rowid}")
            continue
        seen.add(row[key_column])
        rows.append(row)
    return rows, sorted(set(lost) - seen)


def _sound(table: str, row: dict) -> bool:
    """Whether a row read back from a damaged file holds a usable measurement."""
    median = row.get("median_ms")
    if not (isinstance(median, int | float) and math.isfinite(median) and median > 0):
        return False
    if table == "layers":
        try:
            return LayerSpec.from_key(row["key"]).key == row["key"]
        except (LutnasError, TypeError, ValueError):
            return False
    return isinstance(row.get("arch_key"), str) and isinstance(row.get("arch_json"), str)


def _write(out, config, meta, tables, references, source, result) -> None:
    """The new LUT, made under a temporary name and linked into place (all or nothing)."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.repair")
    tmp.unlink(missing_ok=True)
    try:
        store = LutStore.create(tmp, config["backend_config"], config["device"], config["settings"])
        conn = store._conn
        with transaction(conn):
            for key, value in meta.items():  # notes, drift reference, created_at, ...
                if key not in _KEPT_META:
                    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            for table, (columns, rows) in tables.items():
                sql, key_column = insert_sql(table, columns), columns[0]
                for row in rows:
                    try:
                        conn.execute(sql, tuple(row.get(c) for c in columns))
                    except sqlite3.IntegrityError:  # a required value read back as NULL
                        result.rows[table] -= 1
                        result.lost[table].append(row[key_column])
            for row in references:
                names = [c for c in row if c != "id"]
                conn.execute(
                    f"INSERT INTO reference ({', '.join(names)}) "
                    f"VALUES ({', '.join('?' * len(names))})",
                    tuple(row[c] for c in names),
                )
            put_meta(conn, "repaired", {"from": str(source), "at": now(), "lost": result.lost})
        conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to link
        store.close()
        os.link(tmp, out)
    except FileExistsError:
        raise LutnasError(
            f"{out} was created by another process just now; give another --out"
        ) from None
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
