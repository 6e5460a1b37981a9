"""Is a stored row what was measured? Its checksum and a plausibility check, on every read.

A changed byte in a LUT file (a disk or copy error, a flipped bit) can leave SQLite's own
``integrity_check`` content while turning a median of 0.0977 ms into 1.5637 ms. Two checks
catch it when the row is read:

- the row's checksum (:func:`lut.schema.row_checksum`, written with the row) must match its
  values: any change to a stored value fails it;
- the values must be possible (:func:`implausible`): finite, positive timings, p10 ≤ median ≤
  p90, a CV that is std / mean, whole positive run counts, a layer key that decodes to the
  row's own spec columns; for a transferred row (:mod:`lut.transferred`), positive times with
  low ≤ median ≤ high. This also covers rows written before checksums (schema < 3; transferred
  rows: < 5).

:func:`row_problem` applies both; readers leave a failing row out and say so
(:class:`lut.store.LutStore`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from lut.schema import CHECKSUM_COLUMN, SPEC_COLUMNS, row_checksum
from lut.spec import LayerSpec
from lutnas.errors import LutnasError

_REL = 1e-9  # float noise allowed in the order p10 <= median <= p90
_CV_REL = 1e-6  # and in cv = std / mean
_MAX_RUNS = 10**9


def row_problem(table: str, row: Mapping[str, object], checksummed: bool) -> str | None:
    """What is wrong with a ``layers``, ``models`` or ``transferred`` row (None: nothing).

    Args:
        row: column -> value, as read (``checksum`` included when the file has it).
        checksummed: the file's rows carry checksums (schema 3 on): a row without one fails.
    """
    if checksummed:
        stored = row.get(CHECKSUM_COLUMN)
        if stored is None:
            reason = implausible(table, row)
            return f"no checksum{f' and {reason}' if reason else ''}"
        if stored != row_checksum(table, row):
            return "checksum mismatch: its values changed after they were written"
        # the row is as written: its key and spec columns came from one LayerSpec
        return _values_problem(table, row)
    return implausible(table, row)


def _number(value: object) -> bool:
    return (type(value) is float or type(value) is int) and math.isfinite(value)


def _count(value: object, low: int) -> bool:
    return type(value) is int and low <= value <= _MAX_RUNS


def implausible(table: str, row: Mapping[str, object]) -> str | None:
    """Why the statistics and the key of a row cannot be a measurement (or, in
    ``transferred``, a transferred estimate), or None."""
    problem = _values_problem(table, row)
    if problem is not None:
        return problem
    return _model_problem(row) if table == "models" else _layer_problem(row)


def _values_problem(table: str, row: Mapping[str, object]) -> str | None:
    return implausible_estimate(row) if table == "transferred" else implausible_statistics(row)


def implausible_estimate(row: Mapping[str, object]) -> str | None:
    """Why the values of a transferred row cannot be an estimate with its interval, or None."""
    for name in ("median_ms", "low_ms", "high_ms", "source_ms"):
        value = row.get(name)
        if not (_number(value) and value > 0):
            return f"{name} {value!r} is not a positive number"
    low, median, high = row["low_ms"], row["median_ms"], row["high_ms"]
    if not low <= median <= high:
        return f"its interval {low}-{high} ms does not hold its estimate {median} ms"
    for name in ("map_part", "transferred_at"):
        if not isinstance(row.get(name), str) or not row[name]:
            return f"{name} {row.get(name)!r} is not text"
    return None


def implausible_statistics(row: Mapping[str, object]) -> str | None:
    """Why the statistics of a row cannot be a measurement, or None."""
    median, mean = row.get("median_ms"), row.get("mean_ms")
    for name, value in (("median_ms", median), ("mean_ms", mean)):
        if not (_number(value) and value > 0):
            return f"{name} {value!r} is not a positive number"
    for name in ("std_ms", "p10_ms", "p90_ms", "p5_ms", "p95_ms", "cv"):
        value = row.get(name)
        if value is not None and not (_number(value) and value >= 0):
            return f"{name} {value!r} is not a non-negative number"
    p10, p90 = row.get("p10_ms"), row.get("p90_ms")
    tol = _REL * median
    if p10 is not None and p10 > median + tol:
        return f"p10_ms {p10} is above the median {median}"
    if p90 is not None and p90 < median - tol:
        return f"p90_ms {p90} is below the median {median}"
    n, std, cv = row.get("n"), row.get("std_ms"), row.get("cv")
    if not _count(n, 1):
        return f"n {n!r} is not a whole number of runs from 1"
    if std is not None and n == 1 and std > 0:
        return f"std_ms {std} from a single run"
    if std is not None and cv is not None and not math.isclose(cv, std / mean, rel_tol=_CV_REL):
        return f"cv {cv} is not std_ms / mean_ms ({std / mean:.6g})"
    if not _count(row.get("warmup"), 0):
        return f"warmup {row.get('warmup')!r} is not a whole number from 0"
    if not _count(row.get("attempts"), 1):
        return f"attempts {row.get('attempts')!r} is not a whole number from 1"
    for name in ("reference_ms", "drift_factor"):
        value = row.get(name)
        if value is not None and not (_number(value) and value > 0):
            return f"{name} {value!r} is not a positive number"
    return None


def _layer_problem(row: Mapping[str, object]) -> str | None:
    key = row.get("key")
    try:
        spec = LayerSpec.from_key(key)
    except (LutnasError, TypeError, ValueError, AttributeError):
        return f"key {key!r} is not a layer key"
    if spec.key != key:
        return f"key {key!r} is not in its canonical form"
    for column in SPEC_COLUMNS:
        if column in row and not _same(getattr(spec, column), row[column]):
            return f"{column} {row[column]!r} differs from its key's {getattr(spec, column)!r}"
    return None


def _same(a: object, b: object) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return a == b


def _model_problem(row: Mapping[str, object]) -> str | None:
    for name in ("arch_key", "arch_json", "space"):
        if not isinstance(row.get(name), str) or not row[name]:
            return f"{name} {row.get(name)!r} is not text"
    if not _count(row.get("resolution"), 1):
        return f"resolution {row.get('resolution')!r} is not a whole number from 1"
    return None
