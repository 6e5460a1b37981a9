"""When a row is measured again, and which of its measurements is kept.

A row is timed once (``warmup`` + ``runs``); it is timed again, up to ``max_attempts`` in all,
while the 95 % confidence interval of its median is wider than ``ci_tolerance`` of the median
on either side (:attr:`lut.measurement.Measurement.median_ci_rel`: from the order statistics of
the runs, so a few slow outliers that widen p10..p90 but leave the median well known do not
cost a second measurement, as they did under the CV threshold this rule replaces; that one is
still available as ``cv_threshold``). The kept measurement is the one whose median is best
known (the narrowest interval; under the CV rule alone, the lowest robust CV).

:func:`measure_row` also returns the first measurement, so the loop can report what the
re-measurements changed: a row *moved* when its kept median lies outside the first
measurement's interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lut.measurement import Measurement
from profiler.base import Backend, Workload
from profiler.reference import Reference
from profiler.settings import ProfileSettings


@dataclass(frozen=True, kw_only=True)
class RowResult:
    """The kept measurement of a row, how many were taken, and the first of them."""

    measurement: Measurement
    attempts: int
    first: Measurement

    @property
    def moved(self) -> bool:
        """Re-measured, and the kept median lies outside the first measurement's 95 %
        confidence interval of the median (unknown interval: not counted)."""
        interval = self.first.median_ci_ms
        if self.attempts < 2 or interval is None:
            return False
        return not interval[0] <= self.measurement.median_ms <= interval[1]


def unsteady(m: Measurement, settings: ProfileSettings) -> bool:
    """True when ``m`` is to be measured again (an unknown spread, NaN, counts as steady)."""
    wide = settings.ci_tolerance is not None and m.median_ci_rel > settings.ci_tolerance
    noisy = settings.cv_threshold is not None and m.robust_cv > settings.cv_threshold
    return wide or noisy


def _spread(m: Measurement, settings: ProfileSettings) -> float:
    spread = m.median_ci_rel if settings.ci_tolerance is not None else m.robust_cv
    return math.inf if math.isnan(spread) else spread


def steadier(m: Measurement, best: Measurement, settings: ProfileSettings) -> Measurement:
    """The one of ``m`` and ``best`` whose median is better known (``best`` on a tie)."""
    return m if _spread(m, settings) < _spread(best, settings) else best


def _measure_once(
    backend: Backend, workload: Workload, settings: ProfileSettings, reference: Reference | None
) -> Measurement:
    if reference is None:
        return backend.measure(workload, settings.warmup, settings.runs)
    m, ref = backend.measure_against(workload, reference.workload, settings.warmup, settings.runs)
    return reference.correct(m, ref)


def measure_row(
    backend: Backend,
    workload: Workload,
    settings: ProfileSettings,
    reference: Reference | None = None,
) -> RowResult:
    """Measure ``workload`` (drift-corrected against ``reference`` when given) until it is
    steady (:func:`unsteady`) or ``max_attempts`` are spent; keep the steadiest."""
    first = best = _measure_once(backend, workload, settings, reference)
    attempt = 1
    while unsteady(best, settings) and attempt < settings.max_attempts:
        best = steadier(_measure_once(backend, workload, settings, reference), best, settings)
        attempt += 1
    return RowResult(measurement=best, attempts=attempt, first=first)


def measure_steady(
    backend: Backend,
    workload: Workload,
    settings: ProfileSettings,
    reference: Reference | None = None,
) -> tuple[Measurement, int]:
    """:func:`measure_row`'s kept measurement and the attempts it took."""
    row = measure_row(backend, workload, settings, reference)
    return row.measurement, row.attempts
