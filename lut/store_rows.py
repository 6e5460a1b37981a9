"""A LUT's rows as readers get them: each checked (:mod:`lut.rowcheck`), a failing one left out
and reported once, with the way to measure it again (:class:`CheckedRows`); and the SQL of an
open LUT with the file named in every error it raises (:class:`RowAccess`, the base of
:class:`lut.store.LutStore`)."""

from __future__ import annotations

import json
import logging
import shlex
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from lut.rowcheck import row_problem
from lut.schema import CHECKED_COLUMNS, CHECKSUM_COLUMN, KEY_COLUMNS, insert_row
from lut.store_util import read_failure, read_sql, write_failure
from lutnas.errors import LutnasError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("lut.store")

_WHAT = {"layers": "layer row", "models": "whole-model row", "transferred": "transferred row"}
_ROWID = "rowid_"  # the row id of a row read for checking


class CheckedRows:
    """The checks of one open LUT, and the rows that failed them so far.

    Args:
        path: the file (named in the warning).
        checksummed: its measured rows carry checksums (schema 3 on).
    """

    def __init__(self, path: Path, checksummed: bool) -> None:
        self.path = path
        self.checksummed = checksummed
        self.damaged: dict[str, dict[str, str]] = {table: {} for table in KEY_COLUMNS}
        self._warned: set[tuple[str, str]] = set()

    def keep(
        self, table: str, rows: Iterable[sqlite3.Row], checksummed: bool | None = None
    ) -> list[dict]:
        """The rows of ``table`` that pass the checks, as dicts without the checksum; the others
        are remembered in :attr:`damaged` and named in one warning. ``checksummed``: whether
        the table's rows carry checksums (default: :attr:`checksummed`, the measured rows')."""
        good, key_column = [], KEY_COLUMNS[table]
        checksummed = self.checksummed if checksummed is None else checksummed
        for row in rows:
            values = dict(row)
            problem = row_problem(table, values, checksummed)
            if problem is None:
                values.pop(CHECKSUM_COLUMN, None)
                good.append(values)
            else:
                self.damaged[table][str(values.get(key_column))] = problem
        self._warn(table)
        return good

    def replaced(self, table: str, key: str) -> None:
        """The row of ``key`` was written anew: it is no longer damaged."""
        self.damaged[table].pop(key, None)
        self._warned.discard((table, key))

    def _warn(self, table: str) -> None:
        new = [k for k in self.damaged[table] if (table, k) not in self._warned]
        if not new:
            return
        self._warned.update((table, k) for k in new)
        log.warning("%s", self.describe(table, new))

    def describe(self, table: str, keys: list[str] | None = None) -> str:
        """One paragraph: which rows of ``table`` failed, why, and how to measure them again."""
        keys = list(self.damaged[table]) if keys is None else keys
        reasons = {self.damaged[table][k] for k in keys}
        if len(reasons) == 1:
            shown = f"{', '.join(keys[:5])} ({reasons.pop()})"
        else:
            shown = "; ".join(f"{k} ({self.damaged[table][k]})" for k in keys[:5])
        more = f", and {len(keys) - 5} more" if len(keys) > 5 else ""
        path = shlex.quote(str(self.path))
        listed = " ".join(shlex.quote(k) for k in keys[:5])
        rows = f"{_WHAT[table]} fails its" if len(keys) == 1 else f"{_WHAT[table]}s fail their"
        if table == "transferred":  # moved, not measured: moving them again replaces them
            remedy = (
                "Run the profile-device --transfer-from command that made this LUT again "
                f"(--out {path}): it transfers every row it does not measure again"
            )
        else:
            remedy = (
                f"Run the profile-device command that made this LUT again (--out {path}): "
                f"it measures what is left out again; or drop it with: lutnas lut remove "
                f"{path} {listed}{' ...' if len(keys) > 5 else ''}"
            )
        return (
            f"{path}: {len(keys)} {rows} check and {'is' if len(keys) == 1 else 'are'} left "
            f"out: {shown}{more}. {remedy}"
        )


class RowAccess:
    """Reading and writing the rows of an open LUT: every error names the file
    (:func:`lut.store_util.read_failure`, :func:`~lut.store_util.write_failure`), and every
    row read passes its checks (:attr:`checks`). Set up by :class:`lut.store.LutStore`."""

    path: Path
    _conn: sqlite3.Connection
    checks: CheckedRows

    def _query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise LutnasError(read_failure(self.path, exc)) from None

    def _write(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise LutnasError(write_failure(self.path, exc)) from None

    def _put(self, table: str, values: tuple) -> None:
        row = dict(zip(CHECKED_COLUMNS[table], values, strict=True))
        try:
            insert_row(self._conn, table, row)
        except sqlite3.DatabaseError as exc:
            raise LutnasError(write_failure(self.path, exc)) from None
        self.checks.replaced(table, values[0])

    def _checked(self, table: str, where: str = "", params: tuple | list = ()) -> list[dict]:
        """The rows of ``table`` that pass their checks (:class:`lut.store_rows.CheckedRows`)."""
        return self.checks.keep(table, self._query(f"SELECT * FROM {table} {where}", params))

    def damaged_rows(self) -> dict[str, dict[str, str]]:
        """Rows left out so far because they failed their checks: table -> key -> why."""
        return {t: dict(rows) for t, rows in self.checks.damaged.items() if rows}

    def stored_keys(self) -> set[str]:
        """Every layer and arch key in the file, damaged rows included."""
        return {
            r[0] for r in self._query("SELECT key FROM layers UNION SELECT arch_key FROM models")
        }

    # --- layers ----------------------------------------------------------------------------
    def layer_keys(self) -> set[str]:
        """The keys of the layer rows that pass their checks (a damaged row is measured again)."""
        return {r["key"] for r in self._checked("layers")}

    def layer_count(self) -> int:
        return self._query("SELECT COUNT(*) FROM layers")[0][0]

    def latency_ms(self, keys: Iterable[str]) -> dict[str, float]:
        """Median latency of each stored key (missing keys are absent from the result)."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, float] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = self._checked("layers", f"WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            out.update({r["key"]: r["median_ms"] for r in rows})
        return out

    def layers_frame(self) -> pd.DataFrame:
        return self._frame("layers", "key")

    def _frame(self, table: str, key_column: str) -> pd.DataFrame:
        """The rows of ``table`` that pass their checks, as pandas reads SQL (its dtypes),
        checked and read in one snapshot of the file; a failing row is never handed to pandas
        (its text may not even decode)."""
        snapshot = not self._conn.in_transaction
        try:
            if snapshot:
                self._conn.execute("BEGIN")
            rows = self._query(f"SELECT rowid AS {_ROWID}, * FROM {table}")
            good = {r[_ROWID] for r in self.checks.keep(table, rows)}
            bad = sorted({r[_ROWID] for r in rows} - good)
            where = "WHERE rowid NOT IN (SELECT value FROM json_each(?))" if bad else ""
            frame = read_sql(
                f"SELECT * FROM {table} {where} ORDER BY {key_column}",
                self._conn,
                [json.dumps(bad)] if bad else None,
            )
        except sqlite3.DatabaseError as exc:
            raise LutnasError(read_failure(self.path, exc)) from None
        finally:
            if snapshot and self._conn.in_transaction:
                self._conn.execute("COMMIT")
        return frame.drop(columns=[CHECKSUM_COLUMN], errors="ignore")

    # --- whole models ----------------------------------------------------------------------
    def model_keys(self) -> set[str]:
        """The arch keys of the whole-model rows that pass their checks."""
        return {r["arch_key"] for r in self._checked("models")}

    def models_frame(self) -> pd.DataFrame:
        return self._frame("models", "arch_key")
