"""Pareto front of (accuracy ↑, latency ↓) and its 2-D hypervolume; numpy only.

Point ``a`` dominates ``b`` when ``a`` is at least as accurate and at least as fast, and
strictly better in one of the two. The front is every point no other point dominates; exact
duplicates do not dominate each other, so all copies of a front point are on the front.

The hypervolume w.r.t. a reference point (``ref_accuracy``, ``ref_latency_ms``) is the area of
the (latency, accuracy) region that is dominated by some point and bounded by the reference:
latencies below ``ref_latency_ms``, accuracies above ``ref_accuracy``. Its unit is
accuracy × ms; compare hypervolumes only under the same reference point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lutnas.errors import LutnasError


def _as_points(
    accuracy: Sequence[float] | np.ndarray, latency_ms: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    acc = np.asarray(accuracy, dtype=np.float64)
    lat = np.asarray(latency_ms, dtype=np.float64)
    if acc.ndim != 1 or lat.ndim != 1 or acc.shape != lat.shape:
        raise LutnasError(
            "accuracy and latency_ms must be 1-D and of equal length, "
            f"got shapes {acc.shape} and {lat.shape}"
        )
    if not (np.all(np.isfinite(acc)) and np.all(np.isfinite(lat))):
        raise LutnasError("accuracy and latency_ms must be finite (drop failed evaluations first)")
    return acc, lat


def pareto_front(
    accuracy: Sequence[float] | np.ndarray, latency_ms: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Indices of the non-dominated points, by increasing latency (ties: input order).

    Along the returned order accuracy strictly increases, except between exact duplicates.

    Raises:
        LutnasError: inputs not 1-D of equal length, or not finite.
    """
    acc, lat = _as_points(accuracy, latency_ms)
    if acc.size == 0:
        return np.zeros(0, dtype=np.intp)
    points = np.stack([lat, acc], axis=1)
    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    # unique rows, by latency ascending then accuracy descending
    order = np.lexsort((-unique[:, 1], unique[:, 0]))
    sorted_acc = unique[order, 1]
    best_before = np.concatenate([[-np.inf], np.maximum.accumulate(sorted_acc)[:-1]])
    on_front_unique = np.zeros(len(unique), dtype=bool)
    # a unique point is dominated iff an earlier one (faster, or as fast and more accurate)
    # is at least as accurate
    on_front_unique[order] = sorted_acc > best_before
    indices = np.flatnonzero(on_front_unique[inverse])
    return indices[np.argsort(lat[indices], kind="stable")]


def hypervolume_2d(
    accuracy: Sequence[float] | np.ndarray,
    latency_ms: Sequence[float] | np.ndarray,
    ref_accuracy: float,
    ref_latency_ms: float,
) -> float:
    """Area dominated by the points inside the box (latency < ref_latency_ms, accuracy >
    ref_accuracy), in accuracy × ms. Points outside the box add nothing; no points gives 0.

    Raises:
        LutnasError: inputs not 1-D of equal length, or not finite; non-finite reference.
    """
    acc, lat = _as_points(accuracy, latency_ms)
    if not (np.isfinite(ref_accuracy) and np.isfinite(ref_latency_ms)):
        raise LutnasError("the hypervolume reference point must be finite")
    inside = (acc > ref_accuracy) & (lat < ref_latency_ms)
    acc, lat = acc[inside], lat[inside]
    if acc.size == 0:
        return 0.0
    order = np.argsort(lat, kind="stable")
    lat, acc = lat[order], acc[order]
    # staircase: between consecutive latencies the height is the best accuracy so far
    height = np.maximum.accumulate(acc) - ref_accuracy
    width = np.diff(np.append(lat, ref_latency_ms))
    return float(np.sum(width * height))
