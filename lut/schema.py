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
"""

from __future__ import annotations

import json
import sqlite3

from lut.measurement import Measurement
from lutnas.sqlite import transaction

FORMAT = "lutnas-lut"
SCHEMA_VERSION = 2  # 2: reference_ms and drift_factor columns
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
    measured_at TEXT NOT NULL, reference_ms REAL, drift_factor REAL);
CREATE TABLE IF NOT EXISTS models (
    arch_key TEXT PRIMARY KEY, arch_json TEXT NOT NULL, space TEXT NOT NULL,
    resolution INTEGER NOT NULL, name TEXT,
    median_ms REAL NOT NULL, mean_ms REAL NOT NULL, std_ms REAL, p10_ms REAL, p90_ms REAL,
    n INTEGER NOT NULL, warmup INTEGER NOT NULL, cv REAL, attempts INTEGER NOT NULL,
    measured_at TEXT NOT NULL, reference_ms REAL, drift_factor REAL);
CREATE TABLE IF NOT EXISTS reference (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, median_ms REAL NOT NULL,
    ratio REAL NOT NULL, rows_done INTEGER NOT NULL, measured_at TEXT NOT NULL);
"""


SPACES_META_KEY = "spaces"  # the spaces' definitions (written by lutnas.spaces.stored)
DRIFT_COLUMNS = ("reference_ms", "drift_factor")  # added in schema 2
LAYER_COLUMNS = (
    "key",
    *SPEC_COLUMNS,
    *STAT_COLUMNS,
    "cv",
    "attempts",
    "measured_at",
    *DRIFT_COLUMNS,
)
MODEL_COLUMNS = (
    "arch_key", "arch_json", "space", "resolution", "name",
    *STAT_COLUMNS, "cv", "attempts", "measured_at", *DRIFT_COLUMNS,
)  # fmt: skip


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
            add_drift_columns(conn)
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                (json.dumps(SCHEMA_VERSION),),
            )
    except sqlite3.OperationalError:
        pass


def add_drift_columns(conn: sqlite3.Connection) -> None:
    """Bring a schema-1 file up to date (the columns are NULL for its old rows)."""
    for table in ("layers", "models"):
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        for column in DRIFT_COLUMNS:
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} REAL")


def stat_values(m: Measurement) -> tuple:
    return (m.median_ms, m.mean_ms, m.std_ms, m.p10_ms, m.p90_ms, m.n, m.warmup, m.cv)


def drift_values(m: Measurement) -> tuple:
    return (m.reference_ms, m.drift_factor if m.reference_ms is not None else None)
