"""The LUT quality verdict (profiler.quality) and ``lutnas lut show``'s use of it."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from lut.measurement import Measurement
from lut.store import LutStore
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.space import get_space
from profiler.quality import (
    DRIFT_MAX,
    MEDIAN_NOISE_MAX,
    P90_NOISE_MAX,
    assess,
    quality_lines,
    verdict_lines,
)
from profiler.report import describe

CONFIG = {"backend": "onnxruntime", "threads": 1, "device": "host:test", "onnxruntime": "1.0"}
DEVICE = {"kind": "host", "cpu_model": "test"}
SETTINGS = {"warmup": 10, "runs": 50}


def frame(noise: list[float], attempts: list[int] | None = None) -> pd.DataFrame:
    """Rows of median 1 ms whose robust CV is each of ``noise``."""
    half = [n * 1.2816 for n in noise]  # (p90 - p10) / (2 · 1.2816 · median) = n
    return pd.DataFrame(
        {
            "median_ms": [1.0] * len(noise),
            "p10_ms": [1 - h for h in half],
            "p90_ms": [1 + h for h in half],
            "attempts": attempts or [1] * len(noise),
        }
    )


def test_a_steady_table_without_drift_is_usable():
    q = assess(frame([0.02] * 9 + [0.05]), {"drift_events": []})
    assert q.verdict == "usable"
    assert q.median_noise == pytest.approx(0.02) and q.p90_noise == pytest.approx(0.023)
    assert verdict_lines(q, "a.lut") == ["verdict: usable — median noise 2.0%, p90 2.3%, no drift"]


def test_a_noisy_table_says_its_figures_the_targets_and_commands_that_exist():
    q = assess(frame([0.03] * 8 + [0.2, 0.3], attempts=[1] * 7 + [3] * 3), {})
    assert q.noisy and q.verdict == "noisy" and q.p90_noise > P90_NOISE_MAX
    assert q.remeasured_share == pytest.approx(0.3)
    lines = verdict_lines(q, "out/host.lut", runs=50)
    assert f"targets ≤ {100 * MEDIAN_NOISE_MAX:.1f}%, ≤ {100 * P90_NOISE_MAX:.1f}%" in lines[0]
    # one command per remedy, one item per line, every line fits a screen
    assert lines[1:] == [
        "  - re-time the 2 rows noisier than 10.0%: lutnas lut retime out/host.lut "
        "--noisier-than 0.1",
        "  - or profile on a quieter machine, or with more --runs (now 50)",
    ]
    phone = verdict_lines(dataclasses.replace(q, backend="adb"), "pixel.lut")
    assert "lutnas lut remove pixel.lut --noisier-than 0.1, then" in phone[1]
    assert phone[2] == "    the same profile-device command (it resumes)"
    assert max(len(line) for line in lines + phone) <= 100


def test_drift_is_reported_per_run_with_its_row_counts():
    events = [  # two runs (their baselines), and one event within the threshold
        {"rows_done": 120, "ratio": 1.25, "baseline_ms": 0.5},
        {"rows_done": 300, "ratio": 1.12, "baseline_ms": 0.5},
        {"rows_done": 900, "ratio": 0.8, "baseline_ms": 0.6},
        {"rows_done": 950, "ratio": 1 + DRIFT_MAX / 2, "baseline_ms": 0.6},
    ]
    q = assess(frame([0.02] * 10), {"drift_events": events})
    assert q.verdict == "drifting"
    assert [(r.events, r.first_rows_done, r.last_rows_done) for r in q.drift_runs] == [
        (2, 120, 300),
        (1, 900, 900),
    ]
    text = "\n".join(quality_lines(q, "a.lut"))
    assert "drift, run 1 (baseline 0.500 ms): 2 event(s) from 120 to 300 rows" in text
    assert "worst 1.25x" in text and "drift in 2 run(s)" in text
    verdict = [line.strip() for line in text.splitlines()].index(
        "verdict: drifting — median noise 2.0%, p90 2.0%, drift in 2 run(s), worst 1.25x"
    )
    assert text.splitlines()[verdict + 1].startswith("    - the machine's speed changed")


def test_whole_models_timed_while_the_speed_moved_are_counted_and_flagged():
    def models(factors):
        return pd.DataFrame({"drift_factor": factors})

    # a steady machine: factors near their median, whatever that is (here 0.88), one stray
    steady = assess(frame([0.02] * 10), {}, models([0.88] * 8 + [0.86, 0.75]))
    assert (steady.models_corrected, steady.models_off_speed) == (10, 1)
    assert steady.verdict == "usable"
    text = " ".join(line.strip() for line in quality_lines(steady, "a.lut"))
    assert "whole models: drift factor 0.75-0.88, median 0.88; 1 of 10 more than 10.0%" in text
    assert "(timed while the machine's speed moved)" in text

    busy = assess(frame([0.02] * 10), {}, models([1.0] * 8 + [0.8, 1.2]))  # a fifth moved
    assert busy.verdict == "drifting" and busy.model_factors == (0.8, 1.0, 1.2)
    lines = verdict_lines(busy, "a.lut")
    assert lines[0].endswith("no drift, 2 of 10 whole models off speed")  # no layer-run drift
    assert lines[1:] == [
        "  - re-time the 2 whole models timed off speed, on an idle machine: lutnas lut retime "
        "a.lut"
    ]
    assert "1 of 10 more than 10.0%" in "\n".join(quality_lines(steady, "a.lut"))
    calm = assess(frame([0.02] * 10), {}, models([1.0] * 8))
    assert "all 8 within 10.0% of it" in "\n".join(quality_lines(calm, "a.lut"))  # not "0 of 8"

    only_models = verdict_lines(assess(frame([]), {}, models([0.5, 0.8, 0.8])), "m.lut")
    assert only_models[0].startswith("verdict: no layer rows")
    assert "lutnas lut retime m.lut" in only_models[-1]
    uncorrected = assess(frame([0.02] * 10), {}, models([None, float("nan")]))
    assert uncorrected.model_factors is None and uncorrected.verdict == "usable"


def test_no_spread_and_no_rows_are_said_so():
    no_spread = frame([0.02, 0.02]).assign(p10_ms=None, p90_ms=None)
    assert assess(no_spread, {}).verdict == "unknown noise"
    assert assess(frame([]), {}).verdict == "empty"
    lines = verdict_lines(assess(frame([]), {}), "a.lut")
    assert lines[0].startswith("verdict: no layer rows")
    assert "lutnas fit --lut a.lut --prior" in lines[1]


def test_lut_show_covers_only_profiled_resolutions_and_ends_with_the_verdict(tmp_path):
    path = tmp_path / "a1.lut"
    with LutStore.create(path, CONFIG, DEVICE, SETTINGS) as store:
        for spec in get_named_arch("mnasnet-a1").layers():  # @224 only
            store.put_layer(spec, Measurement.from_samples([1.0, 1.01, 0.99, 1.0, 1.02], 10))
        text = describe(store, get_space("mnasnet"))
    assert "coverage of mnasnet @224" in text
    assert "@160" not in text and "@192" not in text
    assert text.splitlines()[-1].strip().startswith("verdict: usable")
    assert "noise (robust CV of" in text and "re-measured for noise: 0.0% of rows" in text
