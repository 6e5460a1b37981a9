"""Pareto front (accuracy up, latency down) and 2-D hypervolume."""

import numpy as np
import pytest

from lutnas.errors import LutnasError
from search.pareto import hypervolume_2d, pareto_front

# (accuracy, latency_ms); A, B, D form the front.
POINTS = {
    "A": (0.70, 10.0),
    "C": (0.72, 25.0),  # dominated by B (more accurate and faster)
    "B": (0.75, 20.0),
    "E": (0.60, 40.0),  # dominated by A, B and D
    "D": (0.80, 40.0),
    "F": (0.80, 50.0),  # dominated by D: same accuracy, slower
}
NAMES = list(POINTS)
ACC = [POINTS[n][0] for n in NAMES]
LAT = [POINTS[n][1] for n in NAMES]


def _names(indices):
    return [NAMES[i] for i in indices]


def test_front_hand_example_sorted_by_latency():
    assert _names(pareto_front(ACC, LAT)) == ["A", "B", "D"]


def test_front_same_latency_keeps_more_accurate():
    assert list(pareto_front([0.7, 0.8, 0.75], [10.0, 10.0, 10.0])) == [1]


def test_front_keeps_exact_duplicates():
    assert list(pareto_front([0.8, 0.7, 0.8], [30.0, 10.0, 30.0])) == [1, 0, 2]


def test_front_single_and_empty():
    assert list(pareto_front([0.5], [3.0])) == [0]
    front = pareto_front([], [])
    assert front.size == 0 and front.dtype.kind == "i"


def test_front_matches_brute_force_on_random_points():
    rng = np.random.default_rng(0)
    acc = rng.integers(0, 8, size=60) / 10  # coarse grid: many ties and duplicates
    lat = rng.integers(1, 9, size=60).astype(float)
    dominated = [
        any(
            acc[j] >= acc[i] and lat[j] <= lat[i] and (acc[j] > acc[i] or lat[j] < lat[i])
            for j in range(60)
        )
        for i in range(60)
    ]
    expected = {i for i in range(60) if not dominated[i]}
    front = pareto_front(acc, lat)
    assert set(front.tolist()) == expected
    assert np.all(np.diff(lat[front]) >= 0)


@pytest.mark.parametrize(
    ("acc", "lat"),
    [([0.5, 0.6], [1.0]), ([[0.5]], [[1.0]]), ([0.5, np.nan], [1.0, 2.0]), ([0.5], [np.inf])],
)
def test_front_bad_input(acc, lat):
    with pytest.raises(LutnasError):
        pareto_front(acc, lat)


def test_hypervolume_hand_example():
    # reference (accuracy 0.5, 60 ms); staircase over the front A, B, D:
    # 10-20 ms x 0.20 + 20-40 ms x 0.25 + 40-60 ms x 0.30 = 2 + 5 + 6 = 13
    assert hypervolume_2d(ACC, LAT, 0.5, 60.0) == pytest.approx(13.0)


def test_hypervolume_ignores_dominated_points():
    front = pareto_front(ACC, LAT)
    only_front = hypervolume_2d(np.array(ACC)[front], np.array(LAT)[front], 0.5, 60.0)
    assert only_front == pytest.approx(hypervolume_2d(ACC, LAT, 0.5, 60.0))


def test_hypervolume_single_point_and_outside_reference():
    assert hypervolume_2d([0.9], [10.0], 0.0, 100.0) == pytest.approx(81.0)  # 0.9 x 90
    assert hypervolume_2d([0.9], [100.0], 0.0, 100.0) == 0.0  # not faster than the reference
    assert hypervolume_2d([0.4], [10.0], 0.5, 100.0) == 0.0  # not more accurate
    assert hypervolume_2d([], [], 0.0, 100.0) == 0.0


def test_hypervolume_grows_with_a_new_front_point():
    before = hypervolume_2d(ACC, LAT, 0.5, 60.0)
    after = hypervolume_2d([*ACC, 0.78], [*LAT, 25.0], 0.5, 60.0)
    # the new point adds the 25-40 ms x 0.03 strip over B
    assert after == pytest.approx(before + 15 * 0.03)


def test_hypervolume_matches_cell_count_on_integer_grid():
    rng = np.random.default_rng(1)
    acc = rng.integers(0, 20, size=25).astype(float)
    lat = rng.integers(0, 20, size=25).astype(float)
    ref_acc, ref_lat = 3.0, 17.0
    # unit cell [x, x+1] x [y, y+1] is covered iff some point is at latency <= x and
    # accuracy >= y + 1 within the reference box
    covered = sum(
        any(lat[i] <= x and acc[i] >= y + 1 for i in range(25))
        for x in range(int(ref_lat))
        for y in range(int(ref_acc), 20)
    )
    assert hypervolume_2d(acc, lat, ref_acc, ref_lat) == pytest.approx(covered)


def test_hypervolume_bad_reference():
    with pytest.raises(LutnasError, match="reference"):
        hypervolume_2d([0.5], [1.0], np.nan, 10.0)
