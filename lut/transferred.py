"""Transferred rows: a LUT's rows that were NOT measured on its device but moved to it from
another LUT (the *source*) by a map fitted on pairs of rows measured on both.

They live in their own table (``transferred``, created by the first write: a file without one
has no transferred rows, and lutnas versions that do not know the table read the file's
measurements as before), never in ``layers``: every
reader of measurements (resume, quality verdict, noise, merge's steadiest row) sees
measurements only, and a reader that wants transferred rows asks for them here (``lut merge``,
``lut export`` and ``lut repair`` take them along: :mod:`lut.transferred_copy`, :mod:`lut.repair`).
A key measured on the device hides its transferred row (:func:`transferred_frame` leaves it
out), so a later measurement — a full profile, ``--fill-models``, a bigger ``--sample`` — always
wins, and :func:`write_transferred` never stores a row for a measured key.

Every transferred row carries a checksum of its values (from schema 5; :mod:`lut.schema`) and is
checked when read, as measured rows are (:mod:`lut.rowcheck`): a row that fails is left out of
what readers get and named in one warning; transferring into the file again replaces it.

The file's ``transfer`` metadata says where the rows came from: the source LUT (path, backend
configuration, device, settings), the sample the map was fitted on and the map itself
(``predictor.transfer`` writes it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lut.schema import (  # TRANSFERRED_COLUMNS: importable from here too
    CHECKSUM_COLUMN,
    SPEC_COLUMNS,
    TRANSFERRED_COLUMNS,
    TRANSFERRED_SQL,
    insert_row,
)
from lut.spec import LayerSpec
from lut.store import LutStore
from lut.store_util import now, put_meta
from lutnas.errors import LutnasError
from lutnas.sqlite import transaction

if TYPE_CHECKING:
    import pandas as pd

TRANSFER_META_KEY = "transfer"  # where the rows came from (see the module docstring)
_LIVE = "FROM transferred WHERE key NOT IN (SELECT key FROM layers)"


@dataclass(frozen=True, kw_only=True)
class TransferredRow:
    """One transferred row: the estimate of ``spec``'s median on this device, its 90 %
    interval, the source's median it was moved from, which part of the map moved it, and
    when (None: when it is written; a copied row keeps its own)."""

    spec: LayerSpec
    median_ms: float
    low_ms: float
    high_ms: float
    source_ms: float
    map_part: str
    transferred_at: str | None = None

    @classmethod
    def from_stored(cls, row: dict) -> TransferredRow:
        """The row as :func:`checked_transferred` reads it."""
        return cls(
            spec=LayerSpec.from_key(row["key"]),
            **{c: row[c] for c in ("median_ms", "low_ms", "high_ms", "source_ms", "map_part")},
            transferred_at=row["transferred_at"],
        )

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
    stamp = now()
    written = 0
    with transaction(conn):
        conn.execute("DELETE FROM transferred")
        for r in rows:
            if r.spec.key in measured:
                continue
            insert_row(conn, "transferred", transferred_values(r, r.transferred_at or stamp))
            written += 1
        put_meta(conn, TRANSFER_META_KEY, meta)
    for key in list(store.checks.damaged["transferred"]):  # every row is written anew
        store.checks.replaced("transferred", key)
    return written


def transferred_values(row: TransferredRow, transferred_at: str) -> dict[str, object]:
    """The columns of a ``transferred`` row (:data:`TRANSFERRED_COLUMNS`) of ``row``."""
    spec = row.spec
    return {
        "key": spec.key,
        **{c: getattr(spec, c) for c in SPEC_COLUMNS},
        "median_ms": row.median_ms,
        "low_ms": row.low_ms,
        "high_ms": row.high_ms,
        "source_ms": row.source_ms,
        "map_part": row.map_part,
        "transferred_at": transferred_at,
    }


def checked_transferred(store: LutStore) -> list[dict]:
    """The transferred rows not hidden by a measurement that pass their checks (checksum and
    plausible values, :mod:`lut.rowcheck`), by key, as dicts of :data:`TRANSFERRED_COLUMNS`;
    a failing row is left out and named in one warning (:class:`lut.store_rows.CheckedRows`)."""
    conn = store._conn
    if not _has_table(conn):
        return []
    columns = {r[1] for r in store._query("PRAGMA table_info(transferred)")}
    rows = store._query(f"SELECT * {_LIVE} ORDER BY key")
    return store.checks.keep("transferred", rows, checksummed=CHECKSUM_COLUMN in columns)


def transferred_frame(store: LutStore) -> pd.DataFrame:
    """The transferred rows not hidden by a measurement (columns
    :data:`lut.schema.TRANSFERRED_COLUMNS`) that pass their checks, by key; empty when there
    are none."""
    import pandas as pd

    return pd.DataFrame(checked_transferred(store), columns=list(TRANSFERRED_COLUMNS))


def transferred_ms(store: LutStore) -> dict[str, float]:
    """Key → transferred median (ms) of the rows not hidden by a measurement that pass their
    checks."""
    return {r["key"]: r["median_ms"] for r in checked_transferred(store)}


def transferred_count(store: LutStore) -> int:
    """How many transferred rows are not hidden by a measurement and pass their checks."""
    return len(checked_transferred(store))


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
