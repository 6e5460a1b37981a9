"""NetworkSums: per-segment sums of architectures equal the sums over their whole layer lists."""

from __future__ import annotations

import zlib

import numpy as np

from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space
from predictor import features as F
from predictor.layer_estimator import LayerEstimator
from predictor.sums import NetworkSums, _segment_specs

SPACE = get_space("mnasnet")
ARCHS = sample_archs(SPACE, 300, seed=11)


def _rows(keep_every: int = 1) -> dict[str, float]:
    """Made-up LUT rows (ms) for the archs' layers; every ``keep_every``-th key only."""
    keys = sorted({s.key for a in ARCHS for s in a.layers()})
    return {k: 0.01 + zlib.crc32(k.encode()) % 1000 / 100 for k in keys[::keep_every]}


def test_segments_are_the_arch_layers():
    for arch in ARCHS[:50]:
        parts = [_segment_specs(arch, SPACE, j) for j in range(len(arch.blocks) + 2)]
        assert [s for part in parts for s in part] == arch.layers()


def test_batch_and_single_sums_equal_the_whole_layer_list():
    sums = NetworkSums(_rows(), None)
    batch, missing, n_bad = sums.of_archs(ARCHS)
    assert (missing, n_bad) == ([], 0)
    whole = np.array(
        [NetworkSums(_rows(), None).of_specs(a.layers(), a.resolution)[0] for a in ARCHS]
    )
    np.testing.assert_allclose(batch, whole, rtol=1e-12)
    np.testing.assert_array_equal(batch[7], sums.of_arch(ARCHS[7])[0])
    np.testing.assert_array_equal(batch, sums.of_archs(ARCHS)[0])  # warm: the same


def test_missing_rows_are_reported_per_arch_and_counted():
    rows = _rows(keep_every=3)
    sums = NetworkSums(rows, None)
    batch, missing, n_bad = sums.of_archs(ARCHS)
    expected = [[s.key for s in a.layers() if s.key not in rows] for a in ARCHS]
    assert set(missing) == {k for keys in expected for k in keys}
    assert n_bad == sum(bool(keys) for keys in expected)
    n_estimated = F.column(batch, "n_estimated")
    np.testing.assert_array_equal(n_estimated, [len(keys) for keys in expected])
    assert sums.of_arch(ARCHS[0])[1] == tuple(expected[0])


class _CountingEstimator(LayerEstimator):
    """A real fitted estimator that counts its calls."""

    def __init__(self, fitted: LayerEstimator) -> None:
        super().__init__(fitted.boosters, fitted.rows_per_kind)
        self.calls = 0

    def estimate_ms(self, specs):
        self.calls += 1
        return super().estimate_ms(specs)


def test_a_batch_estimates_its_missing_rows_in_one_call_and_sums_as_one_arch_at_a_time():
    rows = _rows(keep_every=3)
    by_key = {s.key: s for a in ARCHS for s in a.layers()}
    fitted = LayerEstimator.fit([by_key[k] for k in rows], list(rows.values()))
    estimator = _CountingEstimator(fitted)
    sums = NetworkSums(rows, estimator)
    batch, missing, n_bad = sums.of_archs(ARCHS)
    assert estimator.calls == 1  # not one call per new segment
    assert n_bad == sum(any(s.key not in rows for s in a.layers()) for a in ARCHS)
    one_by_one = np.array(
        [NetworkSums(rows, fitted).of_specs(a.layers(), a.resolution)[0] for a in ARCHS]
    )
    np.testing.assert_allclose(batch, one_by_one, rtol=1e-9)
    assert F.column(batch, "n_estimated").sum() > 0
    sums.of_archs(ARCHS)  # warm: nothing new to estimate
    assert estimator.calls == 1
