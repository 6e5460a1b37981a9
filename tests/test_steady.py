"""The re-measure rule (profiler.steady): a row is timed again while the 95 % confidence
interval of its median is wide, not while a few outliers widen its spread; the report counts
the rows whose re-measurement moved them out of their first interval."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binom

from lut.measurement import Measurement, median_ci_ranks
from profiler.backends.torch_eager import TorchBackend
from profiler.base import Workload
from profiler.settings import ProfileSettings
from profiler.steady import RowResult, measure_row, unsteady

CI_RULE = ProfileSettings()  # the default
CV_RULE = ProfileSettings(ci_tolerance=None, cv_threshold=0.10)  # the rule until 2026-12


@pytest.mark.parametrize("n", [6, 7, 10, 29, 30, 50, 51, 100, 200])
def test_the_order_statistics_cover_the_median_with_95_percent(n):
    j, k = median_ci_ranks(n)
    assert k == n + 1 - j
    coverage = 1 - 2 * binom.cdf(j - 1, n, 0.5)  # scipy as the independent oracle
    assert coverage >= 0.95
    assert 1 - 2 * binom.cdf(j, n, 0.5) < 0.95  # the next narrower one would not


def test_a_few_samples_have_only_their_range():
    assert median_ci_ranks(5) == (1, 5) and median_ci_ranks(1) == (1, 1)
    m = Measurement.from_samples([1.0, 2.0, 3.0], 0)
    assert m.median_ci_ms == (1.0, 3.0)


def test_outliers_cost_a_second_measurement_only_under_the_cv_rule():
    # 50 runs: 40 near 1 ms, 10 interrupted at 4 ms (a busy machine's pattern)
    samples = [1.0 + 0.001 * (i % 7) for i in range(40)] + [4.0] * 10
    m = Measurement.from_samples(samples, 10)
    assert m.robust_cv > 0.10  # p90 sits among the outliers
    assert unsteady(m, CV_RULE)
    assert m.median_ci_rel < 0.01 and not unsteady(m, CI_RULE)  # the median is well known


def test_an_unknown_median_is_measured_again():
    samples = [1.0] * 25 + [1.6] * 25  # two modes: the median could be either
    m = Measurement.from_samples(samples, 10)
    assert unsteady(m, CI_RULE) and m.median_ci_rel > 0.2


def test_without_samples_the_interval_comes_from_the_spread():
    # a phone runner's summary: percentiles and n, no samples
    m = Measurement(
        median_ms=10.0, mean_ms=10.2, std_ms=None, p10_ms=9.0, p90_ms=11.0, n=50, warmup=5
    )
    expected = 1.96 * 1.2533 * m.robust_cv / math.sqrt(50)
    assert m.median_ci_rel == pytest.approx(expected)
    low, high = m.median_ci_ms
    assert low == pytest.approx(10 - 10 * expected) and high == pytest.approx(10 + 10 * expected)
    nothing = Measurement(
        median_ms=10.0, mean_ms=10.0, std_ms=None, p10_ms=None, p90_ms=None, n=1, warmup=0
    )
    assert math.isnan(nothing.median_ci_rel) and nothing.median_ci_ms is None
    assert not unsteady(nothing, CI_RULE)  # unknown spread counts as steady, as before


def test_scaling_scales_the_interval():
    m = Measurement.from_samples([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 0).scaled(2.0)
    assert m.median_ci_ms == (2.0, 14.0) and m.median_ci_rel == pytest.approx(0.75)  # 6 / 8


class Scripted(TorchBackend):
    """Returns the statistics of scripted sample lists in turn (the rule's bookkeeping, apart
    from timing; the real-timing case is tests/test_profile_loop.py)."""

    name = "torch"

    def __init__(self, script):
        super().__init__(pin=False)
        self.script = list(script)

    def measure(self, workload, warmup, runs):
        return Measurement.from_samples(self.script.pop(0), warmup)


def _row(script, settings=CI_RULE) -> RowResult:
    with Scripted(script) as backend:
        return measure_row(backend, Workload("w", object, (1,)), settings)


def test_the_best_known_median_is_kept_and_a_move_is_counted():
    wide = [1.0] * 25 + [2.0] * 25  # median anywhere in 1..2
    narrow = [1.9 + 0.0001 * i for i in range(50)]  # 1.9025, well known, inside 1..2
    row = _row([wide, narrow])
    assert row.attempts == 2 and row.measurement.median_ms == pytest.approx(1.90245)
    assert row.first.median_ms == 1.5 and not row.moved  # still inside the first interval
    elsewhere = [3.0 + 0.0001 * i for i in range(50)]  # the second says 3 ms: outside 1..2
    moved = _row([wide, elsewhere])
    assert moved.attempts == 2 and moved.moved


def test_attempts_stop_at_the_limit_and_steady_rows_are_timed_once():
    wide = [1.0] * 25 + [2.0] * 25
    row = _row([wide, wide, wide])
    assert row.attempts == 3 and not row.moved  # the first was kept: it did not move
    steady = [1.0 + 0.0001 * i for i in range(50)]
    assert _row([steady]).attempts == 1


def test_the_report_says_how_many_re_measured_rows_moved(capsys):
    from lutnas.cli.profile import _print_report
    from profiler.loop import ProfileReport

    _print_report("layers", ProfileReport(measured=40, remeasured=12, moved=3, seconds=9))
    out = capsys.readouterr().out
    assert "40 measured (12 re-measured for noise, 3 of them moved outside their first 95%" in out
    _print_report("layers", ProfileReport(measured=0, skipped=29))
    assert "layers: 0 measured (0 re-measured for noise), 29 already" in capsys.readouterr().out
