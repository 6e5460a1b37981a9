"""Transferred rows: a LUT's rows that were NOT measured on its device but moved to it from
another LUT (the *source*) by a map fitted on pairs of rows measured on both.

They live in their own table (``transferred``, created by the first write: a file without one
has no transferred rows, and lutnas versions that do not know the table read the file's
measurements as before), never in ``layers``: every
reader of measurements (resume, quality verdict, noise, merge's steadiest row, export of
``layers``) sees measurements only, and a reader that wants transferred rows asks for them here.
A key measured on the device hides its transferred row (:func:`transferred_frame` leaves it
out), so a later measurement — a full profile, ``--fill-models``, a bigger ``--sample`` — always
wins, and :func:`write_transferred` never stores a row for a measured key.

The file's ``transfer`` metadata says where the rows came from: the source LUT (path, backend
configuration, device, settings), the sample the map was fitted on and the map itself
(``predictor.transfer`` writes it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lut.schema import SPEC_COLUMNS, insert_sql
from lut.spec import LayerSpec
from lut.store import LutStore
from lut.store_util import now, put_meta, read_sql
from lutnas.errors import LutnasError
from lutnas.sqlite import transaction

if TYPE_CHECKING:
    import pandas as pd

TRANSFERRED_SQL = """
CREATE TABLE IF NOT EXISTS transferred (
    key TEXT PRIMARY KEY,
    op TEXT NOT NULL, kernel INTEGER NOT NULL, expansion INTEGER NOT NULL, se_ratio REAL NOT NULL,
    skip TEXT NOT NULL, act TEXT NOT NULL, cin INTEGER NOT NULL, cout INTEGER NOT NULL,
    stride INTEGER NOT NULL, input_h INTEGER NOT NULL, input_w INTEGER NOT NULL,
    median_ms REAL NOT NULL, low_ms REAL NOT NULL, high_ms REAL NOT NULL,
    source_ms REAL NOT NULL, map_part TEXT NOT NULL, transferred_at TEXT NOT NULL);
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
TRANSFER_META_KEY = "transfer"  # where the rows came from (see the module docstring)
_LIVE = "FROM transferred WHERE key NOT IN (SELECT key FROM layers)"


@dataclass(frozen=True, kw_only=True)
class TransferredRow:
    """One transferred row: the estimate of ``spec``'s median on this device, its 90 %
    interval, the source's median it was moved from, and which part of the map moved it."""

    spec: LayerSpec
    median_ms: float
    low_ms: float
    high_ms: float
    source_ms: float
    map_part: str

    def __post_init__(self) -> None:
        values = (self.median_ms, self.low_ms, self.high_ms, self.source_ms)
        if not all(v > 0 and v < float("inf") for v in values):
            raise ValueError(f"a transferred row needs positive finite times, got {values}")
        if not self.low_ms <= self.median_ms <= self.high_ms:
            raise ValueError(
                f"{self.spec.key}: interval {self.low_ms}-{self.high_ms} ms does not hold its "
                f"estimate {self.median_ms} ms"
            )


def _has_table(conn: sqlite3.Connection) -> bool:
    """Whether the file has the table (one never transferred into does not)."""
    return bool(
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'transferred'"
        ).fetchone()
    )


def write_transferred(store: LutStore, rows: Iterable[TransferredRow], meta: dict) -> int:
    """Replace the file's transferred rows by ``rows`` (those of measured keys are dropped) and
    its ``transfer`` metadata by ``meta``, all in one transaction; returns the rows stored.

    Raises:
        LutnasError: the file is open read-only.
    """
    conn = store._conn
    try:
        conn.execute(TRANSFERRED_SQL)
    except sqlite3.OperationalError:
        raise LutnasError(
            f"{store.path} is open read-only; transferred rows cannot be written"
        ) from None
    measured = store.layer_keys()
    sql = insert_sql("transferred", TRANSFERRED_COLUMNS)
    stamp = now()
    written = 0
    with transaction(conn):
        conn.execute("DELETE FROM transferred")
        for r in rows:
            if r.spec.key in measured:
                continue
            conn.execute(
                sql,
                (
                    r.spec.key,
                    *(getattr(r.spec, c) for c in SPEC_COLUMNS),
                    r.median_ms,
                    r.low_ms,
                    r.high_ms,
                    r.source_ms,
                    r.map_part,
                    stamp,
                ),
            )
            written += 1
        put_meta(conn, TRANSFER_META_KEY, meta)
    return written


def transferred_frame(store: LutStore) -> pd.DataFrame:
    """The transferred rows not hidden by a measurement (columns
    :data:`lut.schema.TRANSFERRED_COLUMNS`), by key; empty when there are none."""
    if not _has_table(store._conn):
        import pandas as pd

        return pd.DataFrame(columns=list(TRANSFERRED_COLUMNS))
    return read_sql(f"SELECT * {_LIVE} ORDER BY key", store._conn)


def transferred_ms(store: LutStore) -> dict[str, float]:
    """Key → transferred median (ms) of the rows not hidden by a measurement."""
    if not _has_table(store._conn):
        return {}
    return {r[0]: r[1] for r in store._conn.execute(f"SELECT key, median_ms {_LIVE}")}


def transferred_count(store: LutStore) -> int:
    """How many transferred rows are not hidden by a measurement."""
    if not _has_table(store._conn):
        return 0
    return store._conn.execute(f"SELECT COUNT(*) {_LIVE}").fetchone()[0]


def transfer_meta(store: LutStore) -> dict | None:
    """Where the file's transferred rows came from (None: it has none)."""
    return store.meta.get(TRANSFER_META_KEY)


def transferred_lines(store: LutStore) -> list[str]:
    """What ``lutnas lut show`` says of the file's transferred rows (nothing when none)."""
    count = transferred_count(store)
    if not count:
        return []
    meta = transfer_meta(store) or {}
    source = meta.get("source", {}).get("path", "another LUT")
    pairs = meta.get("sample", {}).get("pairs", "?")
    return [
        f"  transferred: {count} rows from {source} (a map fitted on {pairs} layers measured on "
        "both; not measurements: profiling them replaces them)"
    ]
