"""The layer-level map from a source LUT's rows to a target's, fitted on a sample of rows
measured on both.

In log space, a target row is the source row times a ratio that depends on the layer::

    log(target ms) = log(source ms) + b + (a_kind + z · (w + w_kind))

``z`` are the layer's standardised features: the log source latency itself and the shape
features the layer estimator uses (:data:`MAP_FEATURES`, from
:func:`predictor.layer_estimator.shape_features`), so the ratio can bend with size (small
memory-bound layers against large compute-bound ones). ``b`` is one factor for every layer;
``w`` a slope shared by all kinds; ``a_kind`` and ``w_kind`` each op kind's own departure from
them. Every term but ``b`` is pulled towards zero by a ridge penalty, the kind terms hardest,
so a kind with few sampled rows keeps close to the shared map and a kind with none uses it as
it is (its rows are moved by the ``shared`` part), and with a very small sample the whole map
shrinks towards one factor. The three penalties are chosen by leave-one-out error on the
sample (closed form for ridge regression).

Each moved row gets a 90 % interval from the leave-one-out residuals of its part of the map
(its kind's when the kind has :data:`MIN_PART_ROWS` sampled rows, else all of them), widened
for a small sample. The map serialises to JSON (:meth:`LayerMap.to_dict`), kept in the LUT's
``transfer`` metadata.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from predictor.layer_estimator import SHAPE_FEATURES, shape_features

SHARED = "shared"  # the part of the map that moves rows of kinds the sample lacks
MIN_PAIRS = 3  # pairs needed to fit anything beyond one factor
MIN_PART_ROWS = 10  # sampled rows a kind needs for an interval of its own
# the shape features the map uses: not the op one-hots (the map has its own kind terms)
_SHAPE = tuple(f for f in SHAPE_FEATURES if not f.startswith("op_"))
MAP_FEATURES: tuple[str, ...] = ("log_source_ms", *_SHAPE)
_SHAPE_COLUMNS = np.array([SHAPE_FEATURES.index(f) for f in _SHAPE])
# penalty grids: shared slopes, kinds' offsets, kinds' slopes (per standardised unit)
GRID_SHARED = (0.3, 3.0, 30.0)
GRID_KIND_OFFSET = (0.3, 3.0, 30.0)
GRID_KIND_SLOPE = (3.0, 30.0, 300.0)
INTERVAL = (0.05, 0.95)


def map_features(specs: Sequence[LayerSpec], source_ms: Sequence[float]) -> np.ndarray:
    """One row of :data:`MAP_FEATURES` per spec (unstandardised)."""
    shape = shape_features(specs)[:, _SHAPE_COLUMNS]
    return np.column_stack([np.log(np.asarray(source_ms, dtype=float)), shape])


@dataclass(frozen=True)
class Moved:
    """Rows moved by the map: estimate, interval (all in ms) and the part that moved each."""

    median_ms: np.ndarray
    low_ms: np.ndarray
    high_ms: np.ndarray
    parts: list[str]


class LayerMap:
    """A fitted source → target map (build with :meth:`fit` or :meth:`from_dict`)."""

    def __init__(
        self,
        *,
        mean: np.ndarray,
        scale: np.ndarray,
        kinds: list[str],
        coef: np.ndarray,
        penalties: tuple[float, float, float],
        log_bounds: dict[str, tuple[float, float]],
        loo_rmse: dict[str, float],
        pairs: dict[str, int],
    ) -> None:
        self.mean, self.scale = mean, scale
        self.kinds = kinds  # kinds with terms of their own
        self.coef = coef  # [b, w (p), then per kind: a_kind, w_kind (p)]
        self.penalties = penalties
        self.log_bounds = log_bounds  # part -> (low, high) log-ratio offsets of the interval
        self.loo_rmse = loo_rmse  # part -> leave-one-out RMSE of log(target / moved)
        self.pairs = pairs  # sampled pairs per kind

    # --- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        specs: Sequence[LayerSpec],
        source_ms: Sequence[float],
        target_ms: Sequence[float],
        standardise_on: np.ndarray | None = None,
    ) -> LayerMap:
        """Fit on pairs (``specs[i]`` timed ``source_ms[i]`` on the source and ``target_ms[i]``
        on the target).

        Args:
            standardise_on: :func:`map_features` of the whole table the map will move (the
                features are standardised over it); default: the pairs'.

        Raises:
            LutnasError: no pairs, or a non-positive latency.
        """
        src = np.asarray(source_ms, dtype=float)
        tgt = np.asarray(target_ms, dtype=float)
        if not len(specs):
            raise LutnasError(
                "no layer is measured on both devices, so nothing can be transferred: "
                "time a sample of the table first (--sample K)"
            )
        if not (np.all(src > 0) and np.all(tgt > 0)):
            raise LutnasError("latencies to fit a transfer map on must be positive")
        x = map_features(specs, src)
        base = x if standardise_on is None else standardise_on
        mean, scale = base.mean(axis=0), base.std(axis=0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        kinds_all = [s.op for s in specs]
        pairs = {k: kinds_all.count(k) for k in sorted(set(kinds_all))}
        y = np.log(tgt / src)
        n = len(y)
        if n < MIN_PAIRS:  # one factor: the median ratio
            b = float(np.median(y))
            coef = np.zeros(1 + x.shape[1])
            coef[0] = b
            fitted = cls(
                mean=mean,
                scale=scale,
                kinds=[],
                coef=coef,
                penalties=(math.inf, math.inf, math.inf),
                log_bounds={},
                loo_rmse={},
                pairs=pairs,
            )
            fitted._set_intervals(kinds_all, y - b, n)
            return fitted
        kinds = sorted(pairs)
        design = _design((x - mean) / scale, kinds_all, kinds)
        best = None
        for lam in itertools.product(GRID_SHARED, GRID_KIND_OFFSET, GRID_KIND_SLOPE):
            coef, loo = _ridge_loo(design, y, _penalty(x.shape[1], len(kinds), lam))
            err = float(np.mean(loo**2))
            if best is None or err < best[0]:
                best = (err, lam, coef, loo)
        _, lam, coef, loo = best
        fitted = cls(
            mean=mean,
            scale=scale,
            kinds=kinds,
            coef=coef,
            penalties=lam,
            log_bounds={},
            loo_rmse={},
            pairs=pairs,
        )
        fitted._set_intervals(kinds_all, loo, n)
        return fitted

    def _set_intervals(self, kinds_all: list[str], resid: np.ndarray, n: int) -> None:
        """Interval bounds and leave-one-out RMSE per part, from the residuals ``resid``."""
        kinds_arr = np.array(kinds_all)
        parts = {SHARED: resid}
        for k in self.kinds:
            r = resid[kinds_arr == k]
            if len(r) >= MIN_PART_ROWS:
                parts[k] = r
        widen = 1.0 + 2.0 / math.sqrt(max(n, 1))  # few pairs: wider
        for part, r in parts.items():
            if len(r) >= 2:
                lo, hi = np.quantile(r, INTERVAL)
                self.log_bounds[part] = (float(min(lo, 0.0) * widen), float(max(hi, 0.0) * widen))
                self.loo_rmse[part] = float(np.sqrt(np.mean(r**2)))
            else:  # one pair: nothing to go by but a wide default
                self.log_bounds[part] = (-0.5, 0.5)
                self.loo_rmse[part] = math.nan

    # --- moving rows -----------------------------------------------------------------------
    def move(self, specs: Sequence[LayerSpec], source_ms: Sequence[float]) -> Moved:
        """The target's rows of ``specs`` from the source's, with intervals."""
        src = np.asarray(source_ms, dtype=float)
        if not len(src):
            return Moved(np.zeros(0), np.zeros(0), np.zeros(0), [])
        z = (map_features(specs, src) - self.mean) / self.scale
        kinds_all = [s.op for s in specs]
        log_ratio = _design(z, kinds_all, self.kinds) @ self.coef if self.kinds else None
        if log_ratio is None:
            log_ratio = np.full(len(src), self.coef[0])
        median = src * np.exp(log_ratio)
        parts = [k if k in self.log_bounds else SHARED for k in kinds_all]
        lo = np.array([self.log_bounds[p][0] for p in parts])
        hi = np.array([self.log_bounds[p][1] for p in parts])
        return Moved(median, median * np.exp(lo), median * np.exp(hi), parts)

    def factor(self) -> float:
        """The map's one shared factor (target / source at the table's mean features)."""
        return float(math.exp(self.coef[0]))

    # --- persistence (JSON) ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "form": "log ratio, ridge per op kind shrunk to a shared map",
            "features": list(MAP_FEATURES),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "kinds": self.kinds,
            "coef": self.coef.tolist(),
            "penalties": [None if math.isinf(v) else v for v in self.penalties],
            "log_bounds": {k: list(v) for k, v in self.log_bounds.items()},
            "loo_rmse": self.loo_rmse,
            "pairs": self.pairs,
            "factor": self.factor(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> LayerMap:
        if d.get("features") != list(MAP_FEATURES):
            raise LutnasError(
                "the transfer map was saved with other features (another lutnas version); "
                "fit it again with profile-device --transfer-from SOURCE --sample K"
            )
        return cls(
            mean=np.array(d["mean"], dtype=float),
            scale=np.array(d["scale"], dtype=float),
            kinds=list(d["kinds"]),
            coef=np.array(d["coef"], dtype=float),
            penalties=tuple(math.inf if v is None else float(v) for v in d["penalties"]),
            log_bounds={k: (float(v[0]), float(v[1])) for k, v in d["log_bounds"].items()},
            loo_rmse={k: float(v) for k, v in d["loo_rmse"].items()},
            pairs={k: int(v) for k, v in d["pairs"].items()},
        )


def _design(z: np.ndarray, kinds_all: Sequence[str], kinds: list[str]) -> np.ndarray:
    """Columns: 1, z, then per kind its indicator and its indicator × z."""
    n, p = z.shape
    out = np.zeros((n, 1 + p + len(kinds) * (1 + p)))
    out[:, 0] = 1.0
    out[:, 1 : 1 + p] = z
    index = {k: i for i, k in enumerate(kinds)}
    for row, k in enumerate(kinds_all):
        if k in index:
            start = 1 + p + index[k] * (1 + p)
            out[row, start] = 1.0
            out[row, start + 1 : start + 1 + p] = z[row]
    return out


def _penalty(p: int, n_kinds: int, lam: tuple[float, float, float]) -> np.ndarray:
    shared, offset, slope = lam
    per_kind = [offset] + [slope] * p
    return np.array([1e-6] + [shared] * p + per_kind * n_kinds)


def _ridge_loo(x: np.ndarray, y: np.ndarray, penalty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge coefficients and leave-one-out residuals (``e_i / (1 - h_ii)``)."""
    a = x.T @ x + np.diag(penalty)
    inv = np.linalg.pinv(a)
    coef = inv @ (x.T @ y)
    hat = np.einsum("ij,jk,ik->i", x, inv, x)
    resid = y - x @ coef
    return coef, resid / np.maximum(1.0 - hat, 1e-6)
