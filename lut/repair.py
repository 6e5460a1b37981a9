"""Recovering a damaged LUT file: every row that can still be read goes into a new LUT.

A damaged page (a disk or copy error) makes SQLite refuse whole queries, so neither ``DELETE``
nor a plain export works on such a file. :func:`repair` reads it row by row instead: the row ids
are gathered from the table and from its key index (either may be the damaged one) and each row
is read on its own. Where SQLite refuses the file altogether (a file cut short, a bad byte in its
header) or loses rows, the pages are read directly (:mod:`lut.pages`). Every row is checked
(:mod:`lut.rowcheck`: checksum, plausible values) before it is copied; a row that cannot be
read, or reads back wrong, is reported as lost. The metadata rows that are the same in every LUT
(its format marker, schema version) are supplied when they are damaged; transferred rows
(:mod:`lut.transferred`) are salvaged and checked like measured ones; the backend
configuration and settings must be read. The new file has the old one's backend configuration,
device and settings, so the profile-device command that made the old file resumes into the new
one and re-measures exactly the lost rows. The damaged file is never changed.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from lut.pages import latest, read_pages
from lut.rowcheck import row_problem
from lut.schema import (
    CHECKSUM_COLUMN,
    FORMAT,
    KEY_COLUMNS,
    SCHEMA_SQL,
    TRANSFERRED_SQL,
    insert_row,
)
from lut.store import LutStore
from lut.store_util import now, put_meta, refuse_directory, sweep_temp_files
from lutnas.atomicfile import SQLITE_SIDE_FILES, temp_path
from lutnas.errors import LutnasError
from lutnas.sqlite import connect_readonly, transaction

_NEEDED_META = ("backend_config", "settings")  # without these rows cannot be attributed
_SUPPLIED_META = {"format": FORMAT, "device": {}}  # the same in every LUT / may be left empty
_WRITTEN_BY_CREATE = ("format", "schema_version", "tool_version", "backend_config", "device")


@dataclass
class Repaired:
    """What :func:`repair` copied, and what it could not (keys, or ``rowid N`` where the key
    itself was unreadable)."""

    path: Path
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    lost: dict[str, list[str]] = field(default_factory=dict)  # table -> keys not copied
    from_pages: bool = False  # SQLite refused part of the file: its pages were read directly
    unreadable_cells: int = 0  # cells read from the pages that decode to no row at all
    supplied_meta: list[str] = field(default_factory=list)  # damaged metadata rows replaced


@dataclass
class _Found:
    """Rows read one way: metadata (key -> JSON text), rows per table, and what was missed."""

    meta: dict[str, str] = field(default_factory=dict)
    rows: dict[str, dict[str, dict]] = field(default_factory=dict)  # table -> key -> row
    missing: dict[str, set[str]] = field(default_factory=dict)  # table -> keys not read
    references: dict[int, dict] = field(default_factory=dict)  # rowid -> row
    complete: bool = True


def repair(path: str | Path, out: str | Path) -> Repaired:
    """Copy every readable row of the LUT at ``path`` into a new LUT at ``out``.

    Raises:
        LutnasError: ``out`` exists, or ``path``'s backend configuration or settings cannot be
            read, so its rows cannot be attributed to a device and backend.
    """
    path, out = Path(path), Path(out)
    if not path.is_file():
        raise LutnasError(f"no LUT file at {path}")
    refuse_directory(out)
    if out.exists():
        raise LutnasError(f"{out} already exists; give a new file as --out")
    found = _with_sqlite(path)
    result = Repaired(out)
    if not found.complete:
        _add_pages(found, path, result)
    config = _metadata(path, found.meta, result)
    for table in KEY_COLUMNS:
        rows = found.rows.get(table, {})
        result.rows[table] = len(rows)
        result.lost[table] = sorted(found.missing.get(table, set()) - set(rows))
    sweep_temp_files(out)
    _write(out, config, found, path, result)
    return result


def _with_sqlite(path: Path) -> _Found:
    """What SQLite reads of the file, row by row; ``complete`` False where it refused any."""
    found = _Found()
    try:
        conn = connect_readonly(path)
    except (sqlite3.DatabaseError, LutnasError):
        found.complete = False
        return found
    try:
        meta, complete = _scan(conn, "SELECT key, value FROM meta")
        found.meta = {k: v for k, v in meta if isinstance(k, str) and isinstance(v, str)}
        found.complete &= complete
        tables, listed = _scan(conn, "SELECT name FROM sqlite_master WHERE type = 'table'")
        found.complete &= listed
        for table, key_column in KEY_COLUMNS.items():
            if listed and (table,) not in tables:
                continue  # a table the file never had (transferred: never transferred into)
            rows, missing, complete = _readable_rows(conn, table, key_column)
            found.rows[table], found.missing[table] = rows, missing
            found.complete &= complete and not missing
        references, complete = _scan(conn, "SELECT rowid, * FROM reference")
        found.references = {r[0]: _as_dict(conn, "reference", r) for r in references}
        found.complete &= complete
    finally:
        conn.close()
    return found


def _as_dict(conn: sqlite3.Connection, table: str, values: tuple) -> dict:
    names = ["rowid", *(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))]
    return dict(zip(names, values, strict=True))


def _scan(conn: sqlite3.Connection, sql: str) -> tuple[list[tuple], bool]:
    """The rows of ``sql`` up to the first damaged page; and whether it read to the end."""
    out = []
    try:
        for row in conn.execute(sql):
            out.append(tuple(row))
    except sqlite3.DatabaseError:
        return out, False
    return out, True


def _readable_rows(
    conn: sqlite3.Connection, table: str, key_column: str
) -> tuple[dict[str, dict], set[str], bool]:
    """(key -> sound row, keys or ``rowid N`` of rows not read or not sound, whether the scans
    read to the end)."""
    scanned, complete = _scan(conn, f"SELECT rowid FROM {table} NOT INDEXED")
    rowids: dict[int, object] = {r[0]: None for r in scanned}
    index = f"sqlite_autoindex_{table}_1"  # the key index also holds every row id, with its key
    pairs, indexed = _scan(conn, f"SELECT {key_column}, rowid FROM {table} INDEXED BY {index}")
    rowids.update({rowid: key for key, rowid in pairs})
    rows: dict[str, dict] = {}
    missing: set[str] = set()
    for rowid, key in sorted(rowids.items()):
        try:
            row = conn.execute(f"SELECT * FROM {table} NOT INDEXED WHERE rowid = ?", (rowid,))
            row = row.fetchone()
        except sqlite3.DatabaseError:
            row = None
        row = dict(row) if row is not None else None
        if row is None or _problem(table, row) or row[key_column] in rows:
            missing.add(key if isinstance(key, str) else f"rowid {rowid}")
            continue
        rows[row[key_column]] = row
    return rows, missing, complete and indexed


def _problem(table: str, row: dict) -> str | None:
    return row_problem(table, row, checksummed=CHECKSUM_COLUMN in row)


def _add_pages(found: _Found, path: Path, result: Repaired) -> None:
    """Add what the pages hold that SQLite did not give."""
    try:
        pages = read_pages(path, SCHEMA_SQL + TRANSFERRED_SQL)
    except (ValueError, OSError):
        return
    result.from_pages = True
    result.unreadable_cells = pages.unreadable_cells
    for row in latest(pages.rows.get("meta", []), "key").values():
        if isinstance(row.get("value"), str):
            found.meta.setdefault(row["key"], row["value"])
    for table, key_column in KEY_COLUMNS.items():
        rows, missing = found.rows.setdefault(table, {}), found.missing.setdefault(table, set())
        missing.update(k for k in pages.indexed_keys.get(table, ()) if isinstance(k, str))
        for key, row in latest(pages.rows.get(table, []), key_column).items():
            if key in rows:
                continue
            if _problem(table, row):
                missing.add(str(key))
            else:
                rows[key] = row
        # "rowid N" entries of SQLite's scan that the pages gave back by key
        missing -= {f"rowid {r['rowid']}" for r in rows.values() if "rowid" in r}
    for row in pages.rows.get("reference", []):
        found.references.setdefault(row["rowid"], row)


def _metadata(path: Path, meta: dict[str, str], result: Repaired) -> dict:
    """The metadata for the new file: every readable row, the constant ones supplied."""
    config, unreadable = {}, []
    for key, text in meta.items():
        try:
            config[key] = json.loads(text)
        except ValueError:
            unreadable.append(key)
    if config.get("format") not in (None, FORMAT):
        unreadable.append("format")
    for key, value in _SUPPLIED_META.items():
        if key in unreadable or key not in config:
            config[key] = value
            result.supplied_meta.append(key)
    lost = [k for k in _NEEDED_META if k not in config or k in unreadable]
    if lost:
        raise LutnasError(
            f"the {' and '.join(lost)} of {path} cannot be read (its metadata rows are damaged), "
            "so its rows cannot be attributed to a backend and its settings; profile again "
            "into a new --out"
        )
    for key in set(unreadable) - set(_SUPPLIED_META):
        config.pop(key, None)  # a damaged free-text row (notes): the rows matter, not it
    return config


def _write(out: Path, config: dict, found: _Found, source: Path, result: Repaired) -> None:
    """The new LUT, made under a temporary name and linked into place (all or nothing)."""
    tmp = temp_path(out, "repair")
    try:
        store = LutStore.create(tmp, config["backend_config"], config["device"], config["settings"])
        conn = store._conn
        with transaction(conn):
            for key, value in config.items():  # notes, drift reference, created_at, ...
                if key not in _WRITTEN_BY_CREATE:
                    _copy_meta(conn, key, value)
            if found.rows.get("transferred"):
                conn.execute(TRANSFERRED_SQL)
            for table, rows in found.rows.items():
                for row in rows.values():
                    insert_row(conn, table, row)
            for rowid in sorted(found.references):
                row = found.references[rowid]
                names = ("key", "median_ms", "ratio", "rows_done", "measured_at")
                try:
                    conn.execute(
                        f"INSERT INTO reference ({', '.join(names)}) VALUES (?, ?, ?, ?, ?)",
                        tuple(row.get(c) for c in names),
                    )
                except (sqlite3.IntegrityError, UnicodeEncodeError):
                    continue  # a re-timing of the drift reference that read back damaged
            repaired = {"from": str(source), "at": now(), "lost": result.lost}
            if result.supplied_meta:
                repaired["supplied_meta"] = result.supplied_meta
            put_meta(conn, "repaired", repaired)
        conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to link
        store.close()
        os.link(tmp, out)
    except FileExistsError:
        raise LutnasError(
            f"{out} was created by another process just now; give another --out"
        ) from None
    finally:
        for leftover in (tmp, *(Path(f"{tmp}{side}") for side in SQLITE_SIDE_FILES)):
            leftover.unlink(missing_ok=True)


def _copy_meta(conn: sqlite3.Connection, key: str, value: object) -> None:
    try:
        put_meta(conn, key, value)
    except (UnicodeEncodeError, sqlite3.Error):
        pass  # a damaged free-text row (notes): the rows matter, not it
