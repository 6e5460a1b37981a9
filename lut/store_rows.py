"""A LUT's rows as readers get them: each checked (:mod:`lut.rowcheck`), a failing one left out
and reported once, with the way to measure it again."""

from __future__ import annotations

import logging
import shlex
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from lut.rowcheck import row_problem
from lut.schema import CHECKSUM_COLUMN, KEY_COLUMNS

log = logging.getLogger("lut.store")

_WHAT = {"layers": "layer row", "models": "whole-model row"}


class CheckedRows:
    """The checks of one open LUT, and the rows that failed them so far.

    Args:
        path: the file (named in the warning).
        checksummed: its rows carry checksums (schema 3 on).
    """

    def __init__(self, path: Path, checksummed: bool) -> None:
        self.path = path
        self.checksummed = checksummed
        self.damaged: dict[str, dict[str, str]] = {"layers": {}, "models": {}}
        self._warned: set[tuple[str, str]] = set()

    def keep(self, table: str, rows: Iterable[sqlite3.Row]) -> list[dict]:
        """The rows of ``table`` that pass the checks, as dicts without the checksum; the others
        are remembered in :attr:`damaged` and named in one warning."""
        good, key_column = [], KEY_COLUMNS[table]
        for row in rows:
            values = dict(row)
            problem = row_problem(table, values, self.checksummed)
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
        return (
            f"{path}: {len(keys)} {rows} check and {'is' if len(keys) == 1 else 'are'} left "
            f"out: {shown}"
            f"{more}. Run the profile-device command that made this LUT again (--out {path}): "
            f"it measures what is left out again; or drop it with: lutnas lut remove "
            f"{path} {listed}{' ...' if len(keys) > 5 else ''}"
        )
