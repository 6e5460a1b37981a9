"""Choosing which whole models to measure: spread evenly over the latency range.

Uniform sampling of a search space piles architectures into the middle of the latency range
(a sum of many independent choices), so a predictor trained on it sees few fast or slow models
and extrapolates at the ends. :func:`latency_stratified_archs` draws a larger random pool,
scores each architecture by its LUT sum (cheap, and a good proxy for the rank), cuts the score
range into equal-width bins and takes the same number from each bin; bins with too few
candidates give their share to the others.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence

import numpy as np

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import Space

log = logging.getLogger(__name__)

POOL_FACTOR = 8  # candidates drawn per architecture kept
BINS = 10  # equal-width latency bins


def lut_sum_ms(
    archs: Sequence[Arch], latency_ms: Callable[[list[str]], dict[str, float]]
) -> np.ndarray:
    """The LUT sum of each architecture; NaN where a row is missing."""
    keys_of = [[s.key for s in a.layers()] for a in archs]
    table = latency_ms(sorted({k for keys in keys_of for k in keys}))
    return np.array(
        [
            sum(table[k] for k in keys) if all(k in table for k in keys) else np.nan
            for keys in keys_of
        ]
    )


def stratified_pick(scores: np.ndarray, n: int, bins: int = BINS, seed: int = 0) -> list[int]:
    """Indices of ``n`` entries of ``scores`` spread evenly over equal-width bins of its range.

    NaN scores are never picked. Bins holding fewer than their share give the rest to the
    other bins (water-filling), so exactly ``min(n, valid)`` indices come back.
    """
    rng = random.Random(seed)
    valid = np.flatnonzero(np.isfinite(scores))
    if n >= len(valid):
        return sorted(valid.tolist())
    lo, hi = float(scores[valid].min()), float(scores[valid].max())
    edges = np.linspace(lo, hi, bins + 1)
    which = np.clip(np.searchsorted(edges, scores[valid], side="right") - 1, 0, bins - 1)
    members = [valid[which == b].tolist() for b in range(bins)]
    for m in members:
        rng.shuffle(m)
    quota = [0] * bins
    left = n
    while left:
        open_bins = [b for b in range(bins) if quota[b] < len(members[b])]
        share = max(1, left // len(open_bins))
        for b in open_bins:
            take = min(share, len(members[b]) - quota[b], left)
            quota[b] += take
            left -= take
            if not left:
                break
    return sorted(i for b in range(bins) for i in members[b][: quota[b]])


def candidate_pool(
    space: Space,
    n: int,
    seed: int = 0,
    resolutions: tuple[int, ...] | None = None,
    pool_factor: int = POOL_FACTOR,
) -> list[Arch]:
    """The random architectures :func:`latency_stratified_archs` picks ``n`` from (the same for
    the same arguments): their layers must be in the LUT first."""
    return sample_archs(space, n * pool_factor, seed, resolutions)


def latency_stratified_archs(
    space: Space,
    n: int,
    latency_ms: Callable[[list[str]], dict[str, float]],
    seed: int = 0,
    resolutions: tuple[int, ...] | None = None,
    pool_factor: int = POOL_FACTOR,
    bins: int = BINS,
) -> list[Arch]:
    """``n`` architectures whose LUT sums cover the range evenly.

    Args:
        space: the search space to sample.
        n: how many architectures to return.
        latency_ms: ``LutStore.latency_ms``; the layers of the pool must be in the LUT
            (profile-device measures the layers before the whole models).
        seed: seeds the pool and the picks.
        resolutions: input resolutions to draw from (default: the space's).
        pool_factor: candidates drawn per architecture returned.
        bins: equal-width bins over the LUT-sum range.

    Raises:
        LutnasError: fewer than ``n`` pool architectures have all their rows in the LUT.
    """
    pool = candidate_pool(space, n, seed, resolutions, pool_factor)
    scores = lut_sum_ms(pool, latency_ms)
    usable = int(np.isfinite(scores).sum())
    if usable < len(pool):
        log.warning(
            "%d of %d candidate architectures have rows missing from the LUT and "
            "are left out of the latency-stratified sample",
            len(pool) - usable,
            len(pool),
        )
    if usable < n:
        raise LutnasError(
            f"only {usable} of {len(pool)} candidate architectures have all their layers in the "
            f"LUT, {n} are wanted; profile the space's layers first (profile-device without "
            "--limit/--archs), or use --whole-models-sampling uniform"
        )
    return [pool[i] for i in stratified_pick(scores, n, bins, seed)]
