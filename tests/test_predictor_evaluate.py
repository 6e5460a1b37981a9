"""The report's pure parts: metrics, the split, the noise of repeated measurements."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictor.evaluate import Baselines, metrics, repeat_noise, split


def test_metrics_count_shares_rmspe_and_rank():
    true = np.array([10.0, 20.0, 30.0, 40.0])
    pred = np.array([10.4, 21.8, 33.5, 40.0])  # +4%, +9%, +11.7%, 0%
    m = metrics(pred, true)
    assert m["within_5"] == 0.5 and m["within_10"] == 0.75
    assert m["rmspe"] == pytest.approx(
        100 * np.sqrt(np.mean([0.04**2, 0.09**2, (3.5 / 30) ** 2, 0]))
    )
    assert m["kendall_tau"] == pytest.approx(1.0)
    assert metrics(pred[::-1], true)["kendall_tau"] == pytest.approx(-1.0)


def test_split_is_deterministic_and_stable_as_rows_are_added():
    keys = [f"mnasnet@224:arch{i}" for i in range(400)]
    frame = pd.DataFrame({"arch_key": keys, "median_ms": np.arange(400.0)})
    train, test = split(frame, 0.25)
    assert 60 < len(test) < 140 and len(train) + len(test) == 400
    more = pd.concat([frame, pd.DataFrame({"arch_key": ["new1", "new2"], "median_ms": [1, 2]})])
    _, test2 = split(more, 0.25)
    assert set(test["arch_key"]) <= set(test2["arch_key"])


def test_repeat_noise_pools_measurements_and_resists_outliers():
    rng = np.random.default_rng(0)
    truth = rng.uniform(5, 30, 300)
    groups = [t * (1 + rng.normal(0, 0.05, 3)) for t in truth]
    noise = repeat_noise(groups)
    assert noise["rms_pct_single"] == pytest.approx(5.0, rel=0.1)
    assert noise["robust_pct_single"] == pytest.approx(5.0, rel=0.15)
    groups[0] = [10.0, 70.0, 10.0]  # one gross outlier
    spoiled = repeat_noise(groups)
    assert spoiled["rms_pct_single"] > 8 and spoiled["robust_pct_single"] < 6
    assert repeat_noise([[1.0, 1.0], [2.0]])["models"] == 1


def test_baselines_fit_their_definitions():
    macs = np.array([100.0, 200.0, 300.0])
    lut = np.array([5.0, 10.0, 15.0])
    true = 1.1 * lut
    b = Baselines.fit(macs, lut, true)
    assert b.factor == pytest.approx(1.1)
    preds = b.predict(macs, lut)
    np.testing.assert_allclose(preds["flops-linear"], true, rtol=1e-9)
    np.testing.assert_allclose(preds["lut-sum"], lut)
