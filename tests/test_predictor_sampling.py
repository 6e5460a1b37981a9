"""Latency-stratified choice of whole models to measure."""

from __future__ import annotations

import numpy as np
import pytest

from lut.store import LutStore
from lutnas.errors import LutnasError
from lutnas.spaces.space import get_space
from profiler.training_data import latency_stratified_archs, stratified_pick


def test_picks_cover_the_range_evenly_not_the_middle():
    scores = np.random.default_rng(0).normal(20.0, 3.0, 5000)  # uniform sampling's bell curve
    picked = scores[stratified_pick(scores, 200, bins=10)]
    edges = np.linspace(scores.min(), scores.max(), 11)
    edges[-1] += 1e-9
    counts, pool = np.histogram(picked, bins=edges)[0], np.histogram(scores, bins=edges)[0]
    assert counts.sum() == 200
    for b in range(10):  # sparse bins give all they have, the others at least their share
        assert counts[b] == pool[b] if pool[b] < 20 else counts[b] >= 20, (b, counts, pool)
    assert counts.max() <= 40  # the middle does not dominate ...
    assert np.histogram(scores[:200], bins=edges)[0].max() > 40  # ... as it would uniformly


def test_nan_scores_are_never_picked_and_counts_are_exact():
    scores = np.array([1.0, np.nan, 2.0, 3.0, np.nan, 10.0, 11.0])
    assert stratified_pick(scores, 3, bins=3, seed=1) and len(stratified_pick(scores, 3)) == 3
    assert sorted(stratified_pick(scores, 50)) == [0, 2, 3, 5, 6]


def test_a_lut_without_the_pool_rows_is_an_error():
    with pytest.raises(LutnasError, match="uniform"):
        latency_stratified_archs(get_space("mnasnet"), 5, lambda keys: {}, pool_factor=2)


@pytest.mark.slow  # profiles the layers of 8 pool architectures at 32 px
def test_profile_device_profiles_the_pool_before_latency_sampling(tmp_path, capsys):
    from lutnas.cli.profile import main
    from profiler.training_data import candidate_pool

    out = tmp_path / "small.lut"
    argv = [
        "--arch",
        "mobilenetv2-1.0",
        "--resolution",
        "32",
        "--out",
        str(out),
        "--runs",
        "3",
        "--warmup",
        "1",
        "--reference-every",
        "0",
        "--no-progress",
        "--no-drift-correction",
    ]
    assert main(argv + ["--whole-models", "1", "--whole-models-sampling", "latency"]) == 0
    assert "for the whole models' architectures" in capsys.readouterr().out
    pool = candidate_pool(get_space("mnasnet"), 1, 0, (32,))
    with LutStore.open(out, writable=False) as store:
        assert {s.key for a in pool for s in a.layers()} <= store.layer_keys()
        assert len(store.model_keys()) == 1
