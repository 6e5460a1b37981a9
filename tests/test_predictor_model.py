"""The correction model's parts on synthetic data: the linear base, the numpy tree evaluator,
the calibrated interval and the out-of-distribution check."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from predictor.fast_trees import TreeTable
from predictor.features import FEATURES
from predictor.model import base_ms, fit_base, fit_correction


def _features(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random feature rows with consistent LUT sums, shares and layer counts, and a 'measured'
    latency that is a known linear function of them plus 1% noise."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, len(FEATURES)))
    col = {f: i for i, f in enumerate(FEATURES)}
    parts = rng.uniform(0.5, 10.0, size=(n, 3))  # conv, dconv, mbconv ms
    other = rng.uniform(0.5, 1.5, size=n)
    lut = parts.sum(1) + other
    x[:, col["lut_ms"]] = lut
    x[:, col["log_lut_ms"]] = np.log(lut)
    for j, op in enumerate(("conv", "dconv", "mbconv")):
        x[:, col[f"share_{op}"]] = parts[:, j] / lut
    x[:, col["share_stem"]] = other / lut
    x[:, col["n_layers"]] = rng.integers(12, 30, size=n)
    true = (
        1.2 * parts[:, 0]
        + 0.9 * parts[:, 1]
        + 1.05 * parts[:, 2]
        + 1.0 * other
        + 0.02 * x[:, col["n_layers"]]
    )
    return x, true * np.exp(rng.normal(0, 0.01, n))


def test_the_linear_base_recovers_per_op_factors():
    x, y = _features(400)
    coef = fit_base(x, y)
    assert coef[:3] == pytest.approx([1.2, 0.9, 1.05], abs=0.03)
    assert np.sqrt(np.mean((base_ms(x, coef) / y - 1) ** 2)) < 0.02


def test_few_networks_get_one_factor():
    x, y = _features(12)
    coef = fit_base(x, y)
    assert len(set(np.round(coef[:4], 9))) == 1 and coef[4] == coef[5] == 0


def test_fit_is_accurate_calibrated_and_flags_the_unseen():
    x, y = _features(300)
    fitted = fit_correction(x, y)
    assert fitted.cv["within_5"] > 0.95
    assert 0.8 <= fitted.cv["interval_coverage"] <= 1.0
    xt, yt = _features(200, seed=1)
    lut = xt[:, FEATURES.index("lut_ms")]
    point, low, high = fitted.predict_log_ratio(xt)
    pred = lut * np.exp(point)
    assert np.mean(np.abs(pred / yt - 1) < 0.05) > 0.95
    assert 0.8 <= np.mean((lut * np.exp(low) <= yt) & (yt <= lut * np.exp(high))) <= 1.0
    assert not any(fitted.out_of_distribution(xt[:5]))
    far = xt[:1].copy()
    far[0, FEATURES.index("lut_ms")] *= 10
    assert any("lut_ms" in r for r in fitted.out_of_distribution(far)[0])


def test_the_seed_reaches_xgboost_and_repeats_exactly():
    # subsample and colsample_bytree are below 1, so XGBoost's own seed changes the trees
    x, y = _features(60)
    a, again, other = (
        fit_correction(x, y, seed=1),
        fit_correction(x, y, seed=1),
        fit_correction(x, y, seed=2),
    )
    xt, _ = _features(20, seed=3)
    assert a.params["seed"] == 1 and other.params["seed"] == 2
    assert np.array_equal(a.predict_log_ratio(xt)[0], again.predict_log_ratio(xt)[0])
    assert not np.array_equal(a.predict_log_ratio(xt)[0], other.predict_log_ratio(xt)[0])


def test_numpy_trees_equal_xgboost():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 7)).astype(np.float32)
    y = x[:, 0] * 2 + np.sin(x[:, 1]) + (x[:, 2] > 0.3)
    booster = xgb.train({"max_depth": 4, "eta": 0.1, "nthread": 1}, xgb.DMatrix(x, y), 120)
    table = TreeTable.from_booster(booster, 7)
    assert table is not None
    probe = rng.normal(size=(50, 7)).astype(np.float32)
    np.testing.assert_allclose(
        table.predict(probe), booster.inplace_predict(probe), rtol=1e-5, atol=1e-6
    )


def test_numpy_trees_refuse_what_they_cannot_reproduce():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    booster = xgb.train(
        {"objective": "reg:absoluteerror", "nthread": 1}, xgb.DMatrix(x, x[:, 0]), 10
    )
    assert TreeTable.from_booster(booster, 3) is None


def test_numpy_trees_refuse_trees_of_another_feature_count():
    # an older predictor's trees split on columns the current feature rows do not have
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 9)).astype(np.float32)
    booster = xgb.train({"max_depth": 3, "nthread": 1}, xgb.DMatrix(x, x[:, 8]), 10)
    assert TreeTable.from_booster(booster, 7) is None
