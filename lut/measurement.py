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

    ``std_ms``, ``p10_ms``, ``p90_ms``, ``p5_ms`` and ``p95_ms`` are None when a runner does not
    report them (e.g. a phone benchmark binary that prints only its own p5/median/p95, or an
    older one that prints only mean and std). ``median_is_mean`` is True when the runner printed
    no median and its mean stands in for it. ``note`` says where a measurement came from when
    that differs from the LUT's first rows (e.g. another binary of the same runner version).
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
    p5_ms: float | None = None
    p95_ms: float | None = None
    median_is_mean: bool = False  # the runner printed no median: the mean stands in
    note: str | None = None

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
            p5_ms=float(np.percentile(a, 5)),
            p95_ms=float(np.percentile(a, 95)),
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
            p5_ms=mul(self.p5_ms),
            p95_ms=mul(self.p95_ms),
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
        return spread(self.median_ms, self.p10_ms, self.p90_ms, self.p5_ms, self.p95_ms)[0]

    @property
    def robust_cv(self) -> float:
        """The row's noise: the normal-equivalent CV of its p10..p90 range, else of its p5..p95
        range (both insensitive to a few outliers), else std / mean (see :func:`noise`)."""
        p = (self.p10_ms, self.p90_ms, self.p5_ms, self.p95_ms)
        return noise(self.median_ms, *p, self.std_ms, self.mean_ms)[0]

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


# z of the normal's 90th and 95th percentiles: (p90 - p10) / (2 z90) estimates the std
NORMAL_Z90 = 1.2816
NORMAL_Z95 = 1.6449
NOISE_BASES = ("p10-p90", "p5-p95", "std/mean")  # from the most robust to the least


def _known(*values: float | None) -> bool:
    return all(v is not None and not math.isnan(v) for v in values)


def spread(
    median_ms: float | None,
    p10_ms: float | None,
    p90_ms: float | None,
    p5_ms: float | None = None,
    p95_ms: float | None = None,
) -> tuple[float, str | None]:
    """The normal-equivalent CV of the p10..p90 range, else of the p5..p95 range (a runner such
    as LiteRT's benchmark_model prints only p5/median/p95), and its basis; (NaN, None) when
    neither range or the median is known."""
    if not _known(median_ms) or median_ms <= 0:
        return math.nan, None
    if _known(p10_ms, p90_ms):
        return (p90_ms - p10_ms) / (2 * NORMAL_Z90 * median_ms), "p10-p90"
    if _known(p5_ms, p95_ms):
        return (p95_ms - p5_ms) / (2 * NORMAL_Z95 * median_ms), "p5-p95"
    return math.nan, None


def noise(
    median_ms: float | None,
    p10_ms: float | None,
    p90_ms: float | None,
    p5_ms: float | None,
    p95_ms: float | None,
    std_ms: float | None,
    mean_ms: float | None,
) -> tuple[float, str | None]:
    """A row's noise and its basis (one of :data:`NOISE_BASES`): the robust :func:`spread` where
    the runner gave percentiles, else std / mean, which a few outliers inflate (older runners
    print only mean and std); (NaN, None) when nothing is known."""
    value, basis = spread(median_ms, p10_ms, p90_ms, p5_ms, p95_ms)
    if basis is not None:
        return value, basis
    if _known(std_ms, mean_ms) and mean_ms > 0:
        return std_ms / mean_ms, "std/mean"
    return math.nan, None
