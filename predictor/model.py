"""The correction model: a linear base on the LUT sums, and XGBoost learning the log ratio to it.

Four parts, each fitted on the training networks:

- the base: measured ≈ Σ_op k_op · (LUT ms of op kind) + c · layers + m · MACs + d, by ridge
  least squares on relative error (:data:`BASE_TERMS`); it captures what is additive — per-op-kind
  scaling of the LUT rows (caches, fusion), the per-layer call overhead a LUT sum counts once
  per layer, and a share of the arithmetic for when the LUT rows are noisier than the whole
  models (oversubscribed threads, eager torch). With fewer than :data:`MIN_LINEAR` networks it
  is the LUT sum times one factor;
- the point model, ``reg:squarederror``, its depth, child weight and number of rounds chosen by
  k-fold cross-validation (:data:`GRID`; early stopping picks the rounds);
- the interval, a two-quantile XGBoost model (``reg:quantileerror``, 5% and 95%) widened by
  split-conformal calibration on its out-of-fold predictions (conformalised quantile
  regression), so a nominal 90% interval covers about 90% on networks like the training ones;
- the training distribution: per-feature ranges of :data:`~predictor.features.OOD_FEATURES`.
  A network outside them (by more than :data:`OOD_MARGIN` of the range) is flagged, never
  silently extrapolated.

Learning the log ratio to a linear base rather than the latency keeps extrapolation sane: far
from the data the trees predict a constant correction of a linear function of the LUT sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

from lutnas.errors import LutnasError
from predictor.fast_trees import SMALL_BATCH, TreeTable
from predictor.features import FEATURES, MODEL_COLUMNS, OOD_FEATURES

ALPHAS = (0.05, 0.95)  # the interval's quantiles: a nominal 90% interval
OOD_MARGIN = 0.05  # share of a feature's training range tolerated beyond its ends
BASE = {
    "eta": 0.03,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "lambda": 1.0,
    "tree_method": "hist",
    "nthread": 1,
    "seed": 0,
}
GRID = [{"max_depth": d, "min_child_weight": w} for d in (2, 3, 4) for w in (1, 4)]
MAX_ROUNDS = 1500
MIN_TRAIN = 5
MIN_LINEAR = 30  # networks needed for the per-op linear base (else one factor)
OPS_BASE = ("conv", "dconv", "mbconv")  # op kinds with their own factor; the rest share one
BASE_TERMS = (*(f"ms_{op}" for op in OPS_BASE), "ms_other", "n_layers", "macs_m", "one")
RIDGE = 1.0  # pull of the base towards the one-factor fit, in units of relative error
BASE_FLOOR = 0.25  # the base never goes below this share of the LUT sum


def base_terms(x: np.ndarray) -> np.ndarray:
    """The linear base's inputs (:data:`BASE_TERMS`) from feature rows."""
    x = np.atleast_2d(x).astype(float)
    lut = x[:, FEATURES.index("lut_ms")]
    cols = [x[:, FEATURES.index(f"share_{op}")] * lut for op in OPS_BASE]
    other = lut - np.sum(cols, axis=0)
    counts = [x[:, FEATURES.index(name)] for name in ("n_layers", "macs_m")]
    return np.column_stack([*cols, other, *counts, np.ones(len(x))])


def fit_base(x: np.ndarray, measured_ms: np.ndarray) -> np.ndarray:
    """Coefficients of :data:`BASE_TERMS` minimising the relative error, ridge-pulled towards
    the one-factor fit (every LUT row scaled by k = exp(mean log(measured / LUT sum))), so
    nearly collinear terms (a classifier row every network shares, a constant) stay tame."""
    a = base_terms(x)
    lut = x[:, FEATURES.index("lut_ms")].astype(float)
    k = float(np.exp(np.mean(np.log(measured_ms / lut))))
    prior = np.array([k] * (len(OPS_BASE) + 1) + [0.0, 0.0, 0.0])
    if len(measured_ms) < MIN_LINEAR:
        return prior
    w = a / measured_ms[:, None]  # relative error rows
    scale = np.maximum(np.abs(w).mean(axis=0), 1e-12)  # penalise in relative-error units
    design = np.vstack([w, np.sqrt(RIDGE) * np.diag(scale)])
    target = np.concatenate([np.ones(len(measured_ms)), np.sqrt(RIDGE) * scale * prior])
    return np.linalg.lstsq(design, target, rcond=None)[0]


def base_ms(x: np.ndarray, coef: np.ndarray) -> np.ndarray:
    lut = np.atleast_2d(x)[:, FEATURES.index("lut_ms")].astype(float)
    return np.maximum(base_terms(x) @ coef, BASE_FLOOR * lut)


def _m(x: np.ndarray) -> np.ndarray:
    """The columns the trees see (:data:`~predictor.features.MODEL_FEATURES`)."""
    return np.ascontiguousarray(np.atleast_2d(x)[:, MODEL_COLUMNS], dtype=np.float32)


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def _n_folds(n: int) -> int:
    return int(min(5, max(2, n // 4)))


def accuracy(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Share within ±5% and ±10%, RMSPE (%), mean and max absolute error (%)."""
    err = (np.asarray(pred) - np.asarray(true)) / np.asarray(true)
    return {
        "within_5": float(np.mean(np.abs(err) <= 0.05)),
        "within_10": float(np.mean(np.abs(err) <= 0.10)),
        "rmspe": float(100 * np.sqrt(np.mean(err**2))),
        "mean_abs_pct": float(100 * np.mean(np.abs(err))),
        "max_abs_pct": float(100 * np.max(np.abs(err))) if len(err) else math.nan,
    }


@dataclass
class Fitted:
    """What :func:`fit_correction` returns; everything persistence stores."""

    point: xgb.Booster
    quantiles: xgb.Booster
    conformal_q: float  # widening of the quantile band, in log-ratio units
    params: dict
    rounds: int
    cv: dict  # out-of-fold accuracy of the point model on the training networks
    ranges: dict[str, list[float]]  # OOD_FEATURES -> [min, max] over the training networks
    base_coef: np.ndarray  # coefficients of BASE_TERMS

    def log_base_ratio(self, x: np.ndarray) -> np.ndarray:
        """``log(base / lut_sum)`` of feature rows."""
        return _log_base_ratio(x, self.base_coef)

    def predict_point(self, x: np.ndarray) -> np.ndarray:
        """``log(latency / lut_sum)`` for feature rows ``x`` (the point prediction only);
        small batches are evaluated in numpy (see :mod:`predictor.fast_trees`)."""
        x32 = np.asarray(x, np.float32)
        if len(x32) <= SMALL_BATCH:
            if not hasattr(self, "_table"):
                self._table = TreeTable.from_booster(self.point, len(MODEL_COLUMNS))
            if self._table is not None:
                return self.log_base_ratio(x) + self._table.predict(_m(x32))
        return self.log_base_ratio(x) + self.point.inplace_predict(_m(x32))

    def predict_log_ratio(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, low, high) of ``log(latency / lut_sum)`` for feature rows ``x``."""
        offset = self.log_base_ratio(x)
        x = np.asarray(x, dtype=np.float32)
        point = self.point.inplace_predict(_m(x))
        q = self.quantiles.inplace_predict(_m(x)).reshape(len(x), len(ALPHAS))
        low = np.minimum(q[:, 0] - self.conformal_q, point)
        high = np.maximum(q[:, 1] + self.conformal_q, point)
        return offset + point, offset + low, offset + high

    def out_of_distribution(self, x: np.ndarray) -> list[list[str]]:
        """For each row, the watched features outside the training range (empty: inside)."""
        x = np.atleast_2d(x)
        out: list[list[str]] = [[] for _ in range(len(x))]
        for name, (lo, hi) in self.ranges.items():
            v = x[:, FEATURES.index(name)]
            pad = OOD_MARGIN * (hi - lo) + 1e-9 * max(1.0, abs(hi))
            for i in np.flatnonzero((v < lo - pad) | (v > hi + pad)):
                out[i].append(f"{name}={v[i]:.4g} outside [{lo:.4g}, {hi:.4g}]")
        return out


def _train_point(x: np.ndarray, y: np.ndarray, params: dict, rounds: int) -> xgb.Booster:
    return xgb.train(
        {**BASE, **params, "objective": "reg:squarederror"}, xgb.DMatrix(_m(x), y), rounds
    )


def _train_quantiles(x: np.ndarray, y: np.ndarray, params: dict, rounds: int) -> xgb.Booster:
    return xgb.train(
        {**BASE, **params, "objective": "reg:quantileerror", "quantile_alpha": np.array(ALPHAS)},
        xgb.QuantileDMatrix(_m(x), y),
        rounds,
    )


def _select(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[dict, int]:
    """Grid point and rounds with the lowest cross-validated RMSE of the log ratio."""
    n = len(y)
    if n < 20:  # too few to choose: shallow, strongly regularised, few rounds
        return {"max_depth": 2, "min_child_weight": max(1, n // 4)}, max(10, 5 * n)
    best = (math.inf, GRID[0], 100)
    folds = _folds(n, _n_folds(n), seed)
    for params in GRID:
        result = xgb.cv(
            {
                **BASE,
                **params,
                "seed": seed,
                "objective": "reg:squarederror",
                "eval_metric": "rmse",
            },
            xgb.DMatrix(_m(x), y),
            MAX_ROUNDS,
            folds=[(np.setdiff1d(np.arange(n), f), f) for f in folds],
            early_stopping_rounds=50,
            seed=seed,
        )
        score = float(result["test-rmse-mean"].iloc[-1])
        if score < best[0]:
            best = (score, params, len(result))
    return best[1], best[2]


def _log_base_ratio(x: np.ndarray, coef: np.ndarray) -> np.ndarray:
    lut = np.atleast_2d(x)[:, FEATURES.index("lut_ms")].astype(float)
    return np.log(base_ms(x, coef) / lut)


def fit_correction(x: np.ndarray, measured_ms: np.ndarray, seed: int = 0) -> Fitted:
    """Fit base, point model, calibrated interval and OOD ranges on features ``x`` and the
    measured latencies.

    Raises:
        LutnasError: fewer than :data:`MIN_TRAIN` networks.
    """
    x, measured_ms = np.asarray(x, dtype=np.float32), np.asarray(measured_ms, dtype=float)
    n = len(measured_ms)
    if n < MIN_TRAIN:
        raise LutnasError(
            f"{n} whole-model measurements are too few to fit a predictor "
            f"(need at least {MIN_TRAIN}); measure more with "
            "profile-device --whole-models N"
        )
    r = np.log(measured_ms) - np.log(x[:, FEATURES.index("lut_ms")].astype(float))
    coef = fit_base(x, measured_ms)
    params, rounds = _select(x, r - _log_base_ratio(x, coef), seed)
    params = {**params, "seed": seed}  # XGBoost's row and column subsampling
    oof = np.empty(n)
    oof_q = np.empty((n, len(ALPHAS)))
    for fold in _folds(n, _n_folds(n), seed + 1):
        train = np.setdiff1d(np.arange(n), fold)
        c = fit_base(x[train], measured_ms[train])
        resid = r[train] - _log_base_ratio(x[train], c)
        offset = _log_base_ratio(x[fold], c)
        point = _train_point(x[train], resid, params, rounds)
        oof[fold] = offset + point.inplace_predict(_m(x[fold]))
        q = _train_quantiles(x[train], resid, params, rounds).inplace_predict(_m(x[fold]))
        oof_q[fold] = offset[:, None] + q.reshape(len(fold), len(ALPHAS))
    # Conformalised quantile regression: widen the band by the (1 - a)(1 + 1/n) quantile of
    # how far the out-of-fold truths fall outside it.
    excess = np.maximum(oof_q[:, 0] - r, r - oof_q[:, 1])
    level = min(1.0, (ALPHAS[1] - ALPHAS[0]) * (1 + 1 / n))
    conformal_q = float(np.quantile(excess, level))
    low = np.minimum(oof_q[:, 0] - conformal_q, oof)
    high = np.maximum(oof_q[:, 1] + conformal_q, oof)
    ranges = {
        name: [float(x[:, FEATURES.index(name)].min()), float(x[:, FEATURES.index(name)].max())]
        for name in OOD_FEATURES
    }
    resid_all = r - _log_base_ratio(x, coef)
    return Fitted(
        point=_train_point(x, resid_all, params, rounds),
        quantiles=_train_quantiles(x, resid_all, params, rounds),
        conformal_q=conformal_q,
        params={**BASE, **params},
        rounds=rounds,
        cv={
            **accuracy(np.exp(oof), np.exp(r)),
            "folds": _n_folds(n),
            "interval_coverage": float(np.mean((r >= low) & (r <= high))),
        },
        ranges=ranges,
        base_coef=coef,
    )
