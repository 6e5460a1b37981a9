"""A LUT's rows read straight from its SQLite pages, for a file SQLite refuses.

A file cut short, or one bad byte in its header, makes SQLite refuse every query ("database
disk image is malformed"), although most of its pages are intact. This module reads the pages
itself (:mod:`lut.sqlite_format`): every table b-tree leaf page holds cells of (row id,
record); pages on the freelist hold nothing current.

Which table a leaf belongs to is found by walking each table's b-tree from its root page
(named in ``sqlite_schema`` on page 1); a leaf the walk cannot reach (its parent page lost) is
given to the one table whose columns its records fit. Nothing here trusts the header's page
count (the file's length counts), and a cell that runs past the end of the file, or whose
record does not decode, is skipped: every row returned was read whole. Whether its values are
right is for the caller to check (:mod:`lut.rowcheck`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from lut.sqlite_format import TABLE_LEAF, FormatError, PageFile, decode_record


@dataclass
class Table:
    """A table as its ``CREATE TABLE`` declares it: column names, declared types, NOT NULL,
    and the INTEGER PRIMARY KEY column (stored as the row id) if any."""

    name: str
    root: int
    columns: list[str]
    types: list[str]
    not_null: list[bool]
    rowid_alias: str | None


@dataclass
class Pages:
    """What :func:`read_pages` found: the rows of each table (column -> value, with
    ``rowid``), and the keys an index lists whose rows were not read."""

    rows: dict[str, list[dict]] = field(default_factory=dict)
    indexed_keys: dict[str, set] = field(default_factory=dict)  # table -> keys in its index
    unreadable_cells: int = 0


def _schema(f: PageFile) -> list[tuple[str, str, str, int, str]]:
    """(type, name, table name, root page, sql) of each entry of ``sqlite_schema`` that reads."""
    entries = []
    for leaf in f.walk(1)[0]:
        for _, payload in f.cells(leaf)[1]:
            try:
                kind, name, table, root, sql = decode_record(payload) if payload else [None] * 5
            except (FormatError, ValueError):
                continue
            if isinstance(name, str) and isinstance(table, str):
                root = root if isinstance(root, int) else 0
                entries.append((kind, name, table, root, sql if isinstance(sql, str) else ""))
    return entries


def _tables(entries: list, fallback_sql: str) -> dict[str, Table]:
    """The tables of ``entries`` (``sqlite_schema``) with their columns; where they do not list
    a ``layers`` table, those of ``fallback_sql`` (roots unknown: 0)."""
    found = [(name, root, sql) for kind, name, _, root, sql in entries if kind == "table"]
    if not any(name == "layers" for name, _, _ in found):
        found = [(name, 0, sql) for name, sql in _statements(fallback_sql)]
    tables = {}
    memory = sqlite3.connect(":memory:")
    try:
        for name, root, sql in found:
            if name.startswith("sqlite_"):
                continue
            try:
                memory.execute(sql)
                info = memory.execute(f'PRAGMA table_info("{name}")').fetchall()
            except sqlite3.Error:
                continue
            pk = [r for r in info if r[5]]
            alias = pk[0][1] if len(pk) == 1 and pk[0][2].upper() == "INTEGER" else None
            tables[name] = Table(
                name, root, [r[1] for r in info], [r[2].upper() for r in info],
                [bool(r[3]) for r in info], alias,
            )  # fmt: skip
    finally:
        memory.close()
    return tables


def _statements(script: str) -> list[tuple[str, str]]:
    """(table name, CREATE TABLE statement) of each table in ``script``."""
    out = []
    for statement in script.split(";"):
        words = statement.split()
        if len(words) > 5 and words[:2] == ["CREATE", "TABLE"]:
            out.append((words[5] if words[2:5] == ["IF", "NOT", "EXISTS"] else words[2], statement))
    return out


def _fits(table: Table, values: list) -> bool:
    """Whether a record's values can be a row of ``table`` (count, storage classes, NOT NULL)."""
    if len(values) > len(table.columns):
        return False
    values = values + [None] * (len(table.columns) - len(values))  # columns added later
    for name, kind, not_null, value in zip(
        table.columns, table.types, table.not_null, values, strict=True
    ):
        if name == table.rowid_alias:
            continue
        if value is None:
            if not_null:
                return False
        elif "INT" in kind and not isinstance(value, int):
            return False
        elif kind in ("REAL", "FLOAT", "DOUBLE") and not isinstance(value, int | float):
            return False
        elif "TEXT" in kind and not isinstance(value, str):
            return False
    return True


def _row(table: Table, rowid: int, values: list) -> dict:
    padded = values + [None] * (len(table.columns) - len(values))
    row = dict(zip(table.columns, padded, strict=True))
    if table.rowid_alias:
        row[table.rowid_alias] = rowid
    row["rowid"] = rowid
    return row


def read_pages(path: str | Path, fallback_sql: str) -> Pages:
    """Every table row that reads whole from the pages of the SQLite file at ``path`` (and of
    its write-ahead log ``path-wal``, where there is one).

    Args:
        fallback_sql: the ``CREATE TABLE`` statements to assume where the file's own schema
            (page 1) does not read.

    Raises:
        ValueError: ``path`` does not start like an SQLite file.
    """
    wal = Path(f"{path}-wal")
    try:
        f = PageFile(Path(path).read_bytes(), wal.read_bytes() if wal.is_file() else b"")
    except FormatError as exc:
        raise ValueError(f"{path}: {exc}") from None
    entries = _schema(f)
    tables = _tables(entries, fallback_sql)
    free = f.freelist()
    owner: dict[int, str] = {}
    claimed: set[int] = {1} | free | set(f.walk(1)[1])
    for kind, name, _, root, _ in entries:
        if root and (kind != "table" or name not in tables):  # indexes, SQLite's own tables
            claimed.update(f.walk(root)[1])
    for table in tables.values():
        if table.root:
            leaves, pages = f.walk(table.root)
            owner.update((leaf, table.name) for leaf in leaves)
            claimed.update(pages)
    found = Pages(rows={name: [] for name in tables})
    for number in range(2, f.count + 1):
        if number in free:
            continue
        try:
            kind, cells = f.cells(number)
        except FormatError:
            continue
        if kind != TABLE_LEAF or (number in claimed and number not in owner):
            continue  # an interior page of a walked tree
        for rowid, payload in cells:
            try:
                values = (
                    decode_record(payload) if payload is not None and rowid is not None else None
                )
            except FormatError:
                values = None
            if values is None:
                found.unreadable_cells += 1
                continue
            if number in owner:
                candidates = [tables[owner[number]]]
            else:  # a leaf whose parent is lost: the table its records fit
                candidates = [t for t in tables.values() if _fits(t, values)]
            if len(candidates) == 1 and _fits(candidates[0], values):
                found.rows[candidates[0].name].append(_row(candidates[0], rowid, values))
            else:
                found.unreadable_cells += 1
    found.indexed_keys = _index_keys(f, entries)
    return found


def _index_keys(f: PageFile, entries: list) -> dict[str, set]:
    """Keys listed in the automatic unique-key indexes (``sqlite_autoindex_<table>_1``)."""
    roots = {
        table: root
        for kind, name, table, root, _ in entries
        if kind == "index" and name == f"sqlite_autoindex_{table}_1" and root
    }
    out: dict[str, set] = {}
    for table, root in roots.items():
        keys = out.setdefault(table, set())
        for number in f.walk(root)[1]:
            for _, payload in f.cells(number)[1]:
                try:
                    values = decode_record(payload) if payload else []
                except FormatError:
                    continue
                if values and isinstance(values[0], str):
                    keys.add(values[0])
    return out


def latest(rows: list[dict], key_column: str) -> dict[object, dict]:
    """One row per key: the one with the highest row id (a replaced row gets a new, higher
    one, so an older copy left on a page the walk could not place never wins)."""
    out: dict[object, dict] = {}
    for row in sorted(rows, key=lambda r: r["rowid"]):
        out[row[key_column]] = row
    return out


def looks_like_lut(path: str | Path) -> bool:
    """Whether the pages of ``path`` still hold a lutnas LUT's metadata row (its format)."""
    from lut.schema import FORMAT, SCHEMA_SQL

    try:
        found = read_pages(path, SCHEMA_SQL)
    except (ValueError, OSError):
        return False
    meta = {r.get("key"): r.get("value") for r in found.rows.get("meta", [])}
    return FORMAT in str(meta.get("format")) or (
        "backend_config" in meta and bool(found.rows.get("layers") or found.rows.get("models"))
    )
