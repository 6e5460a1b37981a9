"""The statistics of one timed workload (a layer or a whole model), in milliseconds: what a
profiler backend returns and what a LUT row stores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """Timing statistics of one workload, all in milliseconds.

    ``std_ms``, ``p10_ms`` and ``p90_ms`` are None when a runner does not report them
    (e.g. a phone benchmark binary that prints only an average and percentiles).
    A drift-corrected measurement (:mod:`profiler.reference`) also carries the median of the
    reference timed alongside it and the factor its statistics were scaled by; the raw median
    is ``median_ms / drift_factor``.
    """

    median_ms: float
    mean_ms: float
    std_ms: float | None
    p10_ms: float | None
    p90_ms: float | None
    n: int  # timed runs
    warmup: int  # untimed runs before them
    reference_ms: float | None = None  # raw median of the interleaved reference
    drift_factor: float = 1.0  # the statistics above were multiplied by this
    # 95 % confidence interval of the median from the samples' order statistics (not stored in
    # LUT files; None when only summary statistics are known, e.g. from a phone's runner)
    median_ci_low_ms: float | None = None
    median_ci_high_ms: float | None = None

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float], warmup: int) -> Measurement:
        a = np.asarray(samples_ms, dtype=float)
        if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError(f"need finite non-negative samples, got {a!r}")
        low, high = median_ci_ranks(a.size)
        ordered = np.sort(a)
        return cls(
            median_ms=float(np.median(a)),
            mean_ms=float(a.mean()),
            std_ms=float(a.std(ddof=1)) if a.size > 1 else 0.0,
            p10_ms=float(np.percentile(a, 10)),
            p90_ms=float(np.percentile(a, 90)),
            n=int(a.size),
            warmup=int(warmup),
            median_ci_low_ms=float(ordered[low - 1]),
            median_ci_high_ms=float(ordered[high - 1]),
        )

    def scaled(self, factor: float, reference_ms: float | None = None) -> Measurement:
        """These statistics times ``factor``: a drift correction against ``reference_ms``, the
        reference timed alongside (None: keep the one recorded), or a change of scale."""
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"a drift factor must be finite and positive, got {factor}")

        def mul(v: float | None) -> float | None:
            return None if v is None else v * factor

        return replace(
            self,
            median_ms=self.median_ms * factor,
            mean_ms=self.mean_ms * factor,
            std_ms=mul(self.std_ms),
            p10_ms=mul(self.p10_ms),
            p90_ms=mul(self.p90_ms),
            reference_ms=self.reference_ms if reference_ms is None else reference_ms,
            drift_factor=self.drift_factor * factor,
            median_ci_low_ms=mul(self.median_ci_low_ms),
            median_ci_high_ms=mul(self.median_ci_high_ms),
        )

    @property
    def cv(self) -> float:
        """Coefficient of variation (std / mean); a spread estimate when std is unknown."""
        if self.std_ms is not None and self.mean_ms > 0:
            return self.std_ms / self.mean_ms
        if self.p10_ms is not None and self.p90_ms is not None and self.median_ms > 0:
            return (self.p90_ms - self.p10_ms) / (2 * 1.2816 * self.median_ms)  # normal p10..p90
        return math.nan

    @property
    def robust_cv(self) -> float:
        """Spread from the p10..p90 range (normal-equivalent CV), insensitive to a few
        outliers; falls back to :attr:`cv` when percentiles are unknown."""
        if self.p10_ms is not None and self.p90_ms is not None and self.median_ms > 0:
            return (self.p90_ms - self.p10_ms) / (2 * 1.2816 * self.median_ms)
        return self.cv

    @property
    def median_ci_rel(self) -> float:
        """Half the width of the 95 % confidence interval of the median, relative to the
        median: from the order statistics of the samples when they were seen, else from the
        spread (normal approximation, 1.96 x 1.2533 sigma / sqrt(n), with sigma from
        :attr:`robust_cv`); NaN when neither is known."""
        if self.median_ms <= 0:
            return math.nan
        if self.median_ci_low_ms is not None and self.median_ci_high_ms is not None:
            return (self.median_ci_high_ms - self.median_ci_low_ms) / (2 * self.median_ms)
        return 1.96 * 1.2533 * self.robust_cv / math.sqrt(max(self.n, 1))

    @property
    def median_ci_ms(self) -> tuple[float, float] | None:
        """The 95 % confidence interval of the median (see :attr:`median_ci_rel`), in ms."""
        if self.median_ci_low_ms is not None and self.median_ci_high_ms is not None:
            return self.median_ci_low_ms, self.median_ci_high_ms
        half = self.median_ci_rel * self.median_ms
        return None if math.isnan(half) else (self.median_ms - half, self.median_ms + half)

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=64)
def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """1-based ranks ``(j, n + 1 - j)`` of the order statistics bounding a distribution-free
    confidence interval of the median of ``n`` samples: the largest ``j`` whose interval still
    covers the median with at least ``confidence`` (the number of samples below the median is
    Binomial(n, 1/2)). Below 6 samples no interval reaches 95 %: the range ``(1, n)`` is used."""
    if n < 1:
        raise ValueError(f"need at least one sample, got {n}")
    tail = (1 - confidence) / 2
    below = 0.0  # P(Binomial(n, 1/2) <= j - 1), growing with j
    j = 0
    while j + 1 <= (n + 1) // 2:
        below += math.comb(n, j) / 2**n
        if below > tail:
            break
        j += 1
    j = max(j, 1)
    return j, n + 1 - j
