"""The LUT file's SQLite schema: tables, columns, and how a measurement becomes a row.

Tables:
    meta(key, value)        JSON values: format, schema_version, tool_version, created_at,
                            backend_config, device, settings (warmup, runs, ...), notes,
                            spaces ({name: definition} of the search spaces profiled,
                            lutnas.spaces.stored)
    layers(key, ...)        one row per LayerSpec key: spec fields + statistics in ms
    models(arch_key, ...)   whole-model measurements (the predictor's training data)
                            reference_ms and drift_factor when drift-corrected (whole models,
                            profiler.reference): the raw median is median_ms / drift_factor
    reference(id, ...)      periodic re-timings of a fixed reference layer (drift)

Every layers and models row carries a ``checksum`` of its values (:func:`row_checksum`, over
the columns of :data:`CHECKED_COLUMNS`), so a value changed after it was written (a flipped bit
on disk or in a copy) is caught when the row is read (:mod:`lut.rowcheck`).

From schema 5 the rows of the ``transferred`` table (rows moved from another LUT, not measured:
:mod:`lut.transferred`) carry a checksum too; the table is created by the first transfer into a
file, so a file never transferred into has none.

Both row tables carry, from schema 4, the runner's own p5/p95 (``p5_ms``, ``p95_ms``), whether
the median is really the mean (``median_is_mean``, 1 when a runner printed no median) and a
``note`` on where the row came from when that differs from the file's first rows.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import sqlite3
from collections.abc import Mapping

from lut.measurement import Measurement
from lutnas.sqlite import transaction

FORMAT = "lutnas-lut"
SCHEMA_VERSION = 5  # 2: reference_ms, drift_factor; 3: checksum; 4: p5/p95, median_is_mean, note;
# 5: checksum of transferred rows
STAT_COLUMNS = ("median_ms", "mean_ms", "std_ms", "p10_ms", "p90_ms", "n", "warmup")
SPEC_COLUMNS = (
    "op",
    "kernel",
    "expansion",
    "se_ratio",
    "skip",
    "act",
    "cin",
    "cout",
    "stride",
    "input_h",
    "input_w",
)

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS layers (
    key TEXT PRIMARY KEY,
    op TEXT NOT NULL, kernel INTEGER NOT NULL, expansion INTEGER NOT NULL, se_ratio REAL NOT NULL,
    skip TEXT NOT NULL, act TEXT NOT NULL, cin INTEGER NOT NULL, cout INTEGER NOT NULL,
    stride INTEGER NOT NULL, input_h INTEGER NOT NULL, input_w INTEGER NOT NULL,
    median_ms REAL NOT NULL, mean_ms REAL NOT NULL, std_ms REAL, p10_ms REAL, p90_ms REAL,
    n INTEGER NOT NULL, warmup INTEGER NOT NULL, cv REAL, attempts INTEGER NOT NULL,
    measured_at TEXT NOT NULL, reference_ms REAL, drift_factor REAL, checksum TEXT,
    p5_ms REAL, p95_ms REAL, median_is_mean INTEGER, note TEXT);
CREATE TABLE IF NOT EXISTS models (
    arch_key TEXT PRIMARY KEY, arch_json TEXT NOT NULL, space TEXT NOT NULL,
    resolution INTEGER NOT NULL, name TEXT,
    median_ms REAL NOT NULL, mean_ms REAL NOT NULL, std_ms REAL, p10_ms REAL, p90_ms REAL,
    n INTEGER NOT NULL, warmup INTEGER NOT NULL, cv REAL, attempts INTEGER NOT NULL,
    measured_at TEXT NOT NULL, reference_ms REAL, drift_factor REAL, checksum TEXT,
    p5_ms REAL, p95_ms REAL, median_is_mean INTEGER, note TEXT);
CREATE TABLE IF NOT EXISTS reference (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, median_ms REAL NOT NULL,
    ratio REAL NOT NULL, rows_done INTEGER NOT NULL, measured_at TEXT NOT NULL);
"""

# Rows moved from another LUT (lut.transferred); created by the first transfer into a file.
TRANSFERRED_SQL = """
CREATE TABLE IF NOT EXISTS transferred (
    key TEXT PRIMARY KEY,
    op TEXT NOT NULL, kernel INTEGER NOT NULL, expansion INTEGER NOT NULL, se_ratio REAL NOT NULL,
    skip TEXT NOT NULL, act TEXT NOT NULL, cin INTEGER NOT NULL, cout INTEGER NOT NULL,
    stride INTEGER NOT NULL, input_h INTEGER NOT NULL, input_w INTEGER NOT NULL,
    median_ms REAL NOT NULL, low_ms REAL NOT NULL, high_ms REAL NOT NULL,
    source_ms REAL NOT NULL, map_part TEXT NOT NULL, transferred_at TEXT NOT NULL, checksum TEXT);
"""
TRANSFERRED_COLUMNS = (
    "key",
    *SPEC_COLUMNS,
    "median_ms",  # the transferred estimate of the row's median on this device
    "low_ms",  # its 90 % interval
    "high_ms",
    "source_ms",  # the source LUT's median of the same key
    "map_part",  # which part of the map moved it: an op kind, or "shared"
    "transferred_at",
)

SPACES_META_KEY = "spaces"  # the spaces' definitions (written by lutnas.spaces.stored)
DRIFT_COLUMNS = ("reference_ms", "drift_factor")  # added in schema 2
RUNNER_COLUMNS = ("p5_ms", "p95_ms", "median_is_mean", "note")  # added in schema 4
_ADDED_COLUMNS = {
    **dict.fromkeys(DRIFT_COLUMNS, "REAL"),
    "p5_ms": "REAL",
    "p95_ms": "REAL",
    "median_is_mean": "INTEGER",
    "note": "TEXT",
}
LAYER_COLUMNS = (
    "key",
    *SPEC_COLUMNS,
    *STAT_COLUMNS,
    "cv",
    "attempts",
    "measured_at",
    *DRIFT_COLUMNS,
    *RUNNER_COLUMNS,
)
MODEL_COLUMNS = (
    "arch_key", "arch_json", "space", "resolution", "name",
    *STAT_COLUMNS, "cv", "attempts", "measured_at", *DRIFT_COLUMNS, *RUNNER_COLUMNS,
)  # fmt: skip


# What a row's checksum covers: every column a row stores. A new column joins by being added to
# LAYER_COLUMNS / MODEL_COLUMNS; NULL values are left out of the hash, so rows written before
# a column existed (NULL there) keep their checksum.
CHECKSUM_COLUMN = "checksum"  # added in schema 3
CHECKED_COLUMNS = {
    "layers": LAYER_COLUMNS,
    "models": MODEL_COLUMNS,
    "transferred": TRANSFERRED_COLUMNS,
}
KEY_COLUMNS = {"layers": "key", "models": "arch_key", "transferred": "key"}


def _canonical(value: object) -> str:
    """One text per stored value: numbers as the float they are (SQLite keeps a REAL column's
    whole numbers as integers), text as it is, blobs in hex."""
    kind = type(value)
    if kind is str:
        return value
    if kind is float or kind is int or isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def row_checksum(table: str, row: Mapping[str, object]) -> str:
    """The checksum of a ``layers``, ``models`` or ``transferred`` row (a mapping of column to
    value): 16 hex digits of BLAKE2b over the non-NULL values of :data:`CHECKED_COLUMNS`."""
    text = "\x00".join(
        f"{column}={_canonical(value)}"
        for column in CHECKED_COLUMNS[table]
        if (value := row.get(column)) is not None and value == value  # NaN is stored NULL
    )
    data = text.encode("utf-8", "surrogateescape")
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def insert_row(conn: sqlite3.Connection, table: str, row: Mapping[str, object]) -> None:
    """Store (or replace) one ``layers``, ``models`` or ``transferred`` row with its checksum."""
    columns = CHECKED_COLUMNS[table]
    conn.execute(
        insert_sql(table, (*columns, CHECKSUM_COLUMN)),
        (*(row.get(c) for c in columns), row_checksum(table, row)),
    )


def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return (
        f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )


def upgrade(conn: sqlite3.Connection) -> None:
    """Bring an older file up to :data:`SCHEMA_VERSION`; a read-only file is left as it is
    (readable as it is)."""
    try:
        with transaction(conn):
            add_columns(conn)
            add_checksums(conn)
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                (json.dumps(SCHEMA_VERSION),),
            )
    except sqlite3.OperationalError:
        pass


def add_columns(conn: sqlite3.Connection) -> None:
    """Bring a file of schema 1 to 3 up to date (the new columns are NULL for its old rows)."""
    for table in ("layers", "models"):
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def add_checksums(conn: sqlite3.Connection) -> None:
    """Give a file from before schema 3 (its transferred rows: before schema 5) its checksum
    column, and every row that passes the plausibility check its checksum (the others stay NULL
    and keep failing that check)."""
    from lut.rowcheck import implausible  # it checks rows as this module lays them out

    for table in CHECKED_COLUMNS:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if not have:
            continue  # no transferred table: the file was never transferred into
        if CHECKSUM_COLUMN not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {CHECKSUM_COLUMN} TEXT")
        cursor = conn.execute(f"SELECT rowid, * FROM {table} WHERE {CHECKSUM_COLUMN} IS NULL")
        names = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            if implausible(table, row) is None:
                conn.execute(
                    f"UPDATE {table} SET {CHECKSUM_COLUMN} = ? WHERE rowid = ?",
                    (row_checksum(table, row), row["rowid"]),
                )


def stat_values(m: Measurement) -> tuple:
    return (m.median_ms, m.mean_ms, m.std_ms, m.p10_ms, m.p90_ms, m.n, m.warmup, m.cv)


def drift_values(m: Measurement) -> tuple:
    return (m.reference_ms, m.drift_factor if m.reference_ms is not None else None)


def runner_values(m: Measurement) -> tuple:
    return (m.p5_ms, m.p95_ms, int(m.median_is_mean), m.note)
