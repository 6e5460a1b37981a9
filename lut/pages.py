"""A LUT's rows read straight from its SQLite pages, for a file SQLite refuses.

A file cut short, or one bad byte in its header, makes SQLite refuse every query ("database
disk image is malformed"), although most of its pages are intact. This module reads the pages
itself, following SQLite's documented file format (sqlite.org/fileformat2.html): the header
gives the page size; every table b-tree leaf page (type 13) holds cells of (row id, record);
a record is a header of serial types and a body of values; payloads too big for their page
continue on a chain of overflow pages; pages on the freelist hold nothing current.

Which table a leaf belongs to is found by walking each table's b-tree from its root page
(named in ``sqlite_schema`` on page 1); a leaf the walk cannot reach (its parent page lost) is
given to the one table whose columns its records fit. Nothing here trusts the header's page
count (the file's length counts), and a cell that runs past the end of the file, or whose
record does not decode, is skipped: every row returned was read whole. Whether its values are
right is for the caller to check (:mod:`lut.rowcheck`).
"""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import dataclass, field
from pathlib import Path

_MAGIC = b"SQLite format 3\x00"
_TABLE_LEAF, _TABLE_INTERIOR, _INDEX_LEAF, _INDEX_INTERIOR = 13, 5, 10, 2
_INT_SIZES = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}


class _Bad(Exception):
    """A structure that does not decode (damaged or cut short)."""


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


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        if pos + i >= len(buf):
            raise _Bad("varint past the end")
        byte = buf[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos + i + 1
    if pos + 8 >= len(buf):
        raise _Bad("varint past the end")
    return (value << 8) | buf[pos + 8], pos + 9


def decode_record(payload: bytes) -> list:
    """The values of one record (None, int, float, str, bytes); raises :class:`_Bad`."""
    header_size, pos = _varint(payload, 0)
    if not 1 <= header_size <= len(payload):
        raise _Bad("record header size")
    types = []
    while pos < header_size:
        serial, pos = _varint(payload, pos)
        types.append(serial)
    if pos != header_size:
        raise _Bad("record header overruns")
    values, body = [], header_size
    for serial in types:
        if serial == 0:
            values.append(None)
        elif serial in _INT_SIZES:
            size = _INT_SIZES[serial]
            values.append(int.from_bytes(payload[body : body + size], "big", signed=True))
            body += size
        elif serial == 7:
            values.append(struct.unpack(">d", payload[body : body + 8])[0])
            body += 8
        elif serial in (8, 9):
            values.append(serial - 8)
        elif serial >= 12:
            size = (serial - 12) // 2
            raw = payload[body : body + size]
            values.append(raw if serial % 2 == 0 else raw.decode("utf-8", "surrogateescape"))
            body += size
        else:
            raise _Bad(f"serial type {serial}")
        if body > len(payload):
            raise _Bad("record body overruns")
    if body != len(payload):
        raise _Bad("record body size")
    return values


class _File:
    """The pages of one file, as far as the file goes."""

    def __init__(self, data: bytes) -> None:
        if not data.startswith(_MAGIC) or len(data) < 100:
            raise _Bad("no SQLite header")
        self.data = data
        self.page_size = self._page_size()
        self.usable = self.page_size - data[20]
        self.count = -(-len(data) // self.page_size)  # the file's pages, not the header's

    def _page_size(self) -> int:
        size = int.from_bytes(self.data[16:18], "big")
        size = 65536 if size == 1 else size
        if size >= 512 and size & (size - 1) == 0:
            return size

        # a damaged field: the size whose page starts hold the most b-tree page types
        def score(candidate: int) -> int:
            starts = range(candidate, len(self.data), candidate)
            return sum(self.data[s] in (2, 5, 10, 13) for s in starts)

        return max((512 << k for k in range(8)), key=score)

    def page(self, number: int) -> bytes:
        """Page ``number`` (from 1); shorter than a page when the file is cut inside it."""
        if not 1 <= number <= self.count:
            raise _Bad(f"page {number} is past the end of the file")
        start = (number - 1) * self.page_size
        return self.data[start : start + self.page_size]

    def btree(self, number: int) -> tuple[bytes, int, int, list[int]]:
        """(page, its type, header offset, cell offsets) of a b-tree page."""
        page = self.page(number)
        head = 100 if number == 1 else 0
        if len(page) < head + 8:
            raise _Bad(f"page {number} is cut short")
        kind = page[head]
        if kind not in (_TABLE_LEAF, _TABLE_INTERIOR, _INDEX_LEAF, _INDEX_INTERIOR):
            raise _Bad(f"page {number} is no b-tree page")
        cells = int.from_bytes(page[head + 3 : head + 5], "big")
        first = head + (8 if kind in (_TABLE_LEAF, _INDEX_LEAF) else 12)
        offsets = []
        for i in range(cells):
            at = first + 2 * i
            if at + 2 > len(page):
                break  # the rest of the pointer array is past the end of the file
            offsets.append(int.from_bytes(page[at : at + 2], "big"))
        return page, kind, head, offsets

    def payload(self, page: bytes, pos: int, size: int, index: bool) -> bytes:
        """The ``size`` payload bytes of a cell starting at ``pos``, overflow pages included."""
        u = self.usable
        most = (u - 12) * 64 // 255 - 23 if index else u - 35
        if size <= most:
            local = size
        else:
            least = (u - 12) * 32 // 255 - 23
            local = least + (size - least) % (u - 4)
            local = local if local <= most else least
        if pos + local > len(page) or (local < size and pos + local + 4 > len(page)):
            raise _Bad("cell past the end of its page")
        out = bytearray(page[pos : pos + local])
        following, seen = int.from_bytes(page[pos + local : pos + local + 4], "big"), set()
        while len(out) < size:
            if following in seen or following == 0:
                raise _Bad("broken overflow chain")
            seen.add(following)
            over, take = self.page(following), min(u - 4, size - len(out))
            if len(over) < 4 + take:
                raise _Bad("overflow page cut short")
            following = int.from_bytes(over[:4], "big")
            out += over[4 : 4 + take]
        return bytes(out[:size])

    def cells(self, number: int) -> tuple[int, list[tuple[int | None, bytes | None]]]:
        """(page type, cells) of a b-tree page. A cell is (row id, payload) on a table leaf,
        (child page, None) on a table interior page, (None, payload) on an index leaf and
        (child page, payload) on an index interior page; an interior page's right-most child
        comes last as (child, None). A part of a cell that does not read is None."""
        page, kind, head, offsets = self.btree(number)
        interior = kind in (_TABLE_INTERIOR, _INDEX_INTERIOR)
        out: list[tuple[int | None, bytes | None]] = []
        for offset in offsets:
            ref, payload, pos = None, None, offset
            try:
                if interior:
                    if pos + 4 > len(page):
                        raise _Bad("cell past the end")
                    ref, pos = int.from_bytes(page[pos : pos + 4], "big"), pos + 4
                if kind == _TABLE_INTERIOR:
                    out.append((ref, None))
                    continue
                size, pos = _varint(page, pos)
                if kind == _TABLE_LEAF:
                    ref, pos = _varint(page, pos)
                    ref -= (ref >> 63) << 64  # a signed 64-bit integer
                payload = self.payload(page, pos, size, kind != _TABLE_LEAF)
            except _Bad:
                pass
            out.append((ref, payload))
        if interior and len(page) >= head + 12:
            out.append((int.from_bytes(page[head + 8 : head + 12], "big"), None))
        return kind, out

    def freelist(self) -> set[int]:
        """The pages on the freelist, as far as its chain reads."""
        free, trunk, seen = set(), int.from_bytes(self.data[32:36], "big"), set()
        while trunk and trunk not in seen:
            seen.add(trunk)
            free.add(trunk)
            try:
                page = self.page(trunk)
            except _Bad:
                break
            n = int.from_bytes(page[4:8], "big")
            for i in range(min(n, (len(page) - 8) // 4)):
                free.add(int.from_bytes(page[8 + 4 * i : 12 + 4 * i], "big"))
            trunk = int.from_bytes(page[:4], "big")
        return free

    def walk(self, root: int) -> tuple[list[int], list[int]]:
        """(leaf pages, every page) of the b-tree at ``root``, as far as it reads."""
        leaves, pages, todo = [], [], [root]
        while todo:
            number = todo.pop()
            if number in pages:
                continue
            try:
                kind, cells = self.cells(number)
            except _Bad:
                continue
            pages.append(number)
            if kind in (_TABLE_LEAF, _INDEX_LEAF):
                leaves.append(number)
            else:
                todo += [child for child, _ in cells if child and child not in pages]
        return leaves, pages


def _schema(f: _File) -> list[tuple[str, str, str, int, str]]:
    """(type, name, table name, root page, sql) of each entry of ``sqlite_schema`` that reads."""
    entries = []
    for leaf in f.walk(1)[0]:
        for _, payload in f.cells(leaf)[1]:
            try:
                kind, name, table, root, sql = decode_record(payload) if payload else [None] * 5
            except (_Bad, ValueError):
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
    """Every table row that reads whole from the pages of the SQLite file at ``path``.

    Args:
        fallback_sql: the ``CREATE TABLE`` statements to assume where the file's own schema
            (page 1) does not read.

    Raises:
        ValueError: ``path`` does not start like an SQLite file.
    """
    try:
        f = _File(Path(path).read_bytes())
    except _Bad as exc:
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
        except _Bad:
            continue
        if kind != _TABLE_LEAF or (number in claimed and number not in owner):
            continue  # an interior page of a walked tree
        for rowid, payload in cells:
            try:
                values = (
                    decode_record(payload) if payload is not None and rowid is not None else None
                )
            except _Bad:
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


def _index_keys(f: _File, entries: list) -> dict[str, set]:
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
                except _Bad:
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
