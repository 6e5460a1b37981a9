"""The runner's own statistics in a LUT: p5/p95, whether the median is really a median, the
noise judged from them, ``lut show --noisiest`` and the upgrade of older files (no phone)."""

from __future__ import annotations

import math

import pytest

from lut.measurement import Measurement, noise
from lut.schema import CHECKSUM_COLUMN, RUNNER_COLUMNS, SCHEMA_VERSION, row_checksum
from lut.spec import LayerSpec
from lut.store import LutStore
from profiler.quality import assess, assess_store, quality_lines, verdict_lines
from profiler.report import describe

CONFIG = {"backend": "adb", "runner": "benchmark_model", "threads": 1, "device": "Google Pixel 4"}
DEVICE = {"kind": "android"}
SETTINGS = {"warmup": 10, "runs": 50}


def spec(cout: int) -> LayerSpec:
    return LayerSpec(
        op="conv", kernel=3, expansion=1, se_ratio=0.0, skip="noskip", act="relu",
        cin=8, cout=cout, stride=1, input_h=8, input_w=8,
    )  # fmt: skip


def litert(median: float, p5: float, p95: float, std: float) -> Measurement:
    """What LiteRT's benchmark_model gives: mean, std, p5, median and p95, no p10/p90."""
    return Measurement(
        median_ms=median, mean_ms=median, std_ms=std, p10_ms=None, p90_ms=None,
        n=50, warmup=10, p5_ms=p5, p95_ms=p95,
    )  # fmt: skip


def old_release(mean: float, std: float) -> Measurement:
    """What a release before LiteRT gives: mean and std only; the mean stands in."""
    return Measurement(
        median_ms=mean, mean_ms=mean, std_ms=std, p10_ms=None, p90_ms=None,
        n=50, warmup=10, median_is_mean=True,
    )  # fmt: skip


def test_p5_p95_judge_a_row_whose_std_an_outlier_inflates():
    # 49 runs of ~1 ms and one of 6 ms: std/mean says 10 %, the percentile range 2 %
    m = litert(1.0, 0.97, 1.03, 0.71)
    assert m.cv == pytest.approx(0.71)
    assert m.robust_cv == pytest.approx(0.06 / (2 * 1.6449))
    assert noise(1.0, None, None, 0.97, 1.03, 0.71, 1.0)[1] == "p5-p95"
    assert noise(1.0, 0.98, 1.02, 0.97, 1.03, 0.71, 1.0)[1] == "p10-p90"  # the narrower first
    assert noise(1.0, None, None, None, None, 0.05, 1.0) == (0.05, "std/mean")
    assert math.isnan(noise(1.0, None, None, None, None, None, 1.0)[0])


def test_from_samples_keeps_p5_and_p95_and_scaling_moves_them():
    m = Measurement.from_samples([float(x) for x in range(1, 101)], 5)
    assert m.p5_ms == pytest.approx(5.95) and m.p95_ms == pytest.approx(95.05)
    s = m.scaled(2.0)
    assert s.p5_ms == pytest.approx(11.9) and s.p95_ms == pytest.approx(190.1)


def test_a_benchmark_model_lut_reports_its_noise_and_its_stand_in_medians(tmp_path):
    path = tmp_path / "phone.lut"
    with LutStore.create(path, CONFIG, DEVICE, SETTINGS) as store:
        for i in range(8):
            store.put_layer(spec(8 + 8 * i), litert(1.0 + i, 0.98 + i, 1.02 + i, 0.5))
        store.put_layer(spec(100), old_release(2.0, 0.1))
        store.put_layer(spec(200), litert(1.0, 0.7, 1.4, 0.2), attempts=2)  # noisiest: ~21 %
    with LutStore.open(path, writable=False) as store:
        rows = store.layers_frame()
        q = assess_store(store)
        shown = describe(store, None, noisiest=3)
    assert rows.set_index("cout").loc[100, "median_is_mean"] == 1
    assert rows.set_index("cout").loc[8, "p5_ms"] == pytest.approx(0.98)
    assert q.verdict != "unknown noise" and q.median_noise is not None
    assert q.noise_bases == {"p5-p95": 9, "std/mean": 1} and q.rows_median_is_mean == 1
    line = " ".join(x.strip() for x in verdict_lines(q, "phone.lut"))
    assert "1 rows' median is the runner's mean (it printed no median)" in line
    assert "(1 rows by std/mean: no percentiles printed)" in line
    lines = quality_lines(q, "phone.lut")
    assert any("median: the runner's mean on 1 of 10 rows" in x for x in lines)
    # --noisiest: sorted by the figure it prints, its basis beside it; * marks the mean
    listed = [x.split() for x in shown.splitlines() if x.startswith("    ") and "conv_" in x]
    printed = [float(x[0]) for x in listed]
    assert printed == sorted(printed, reverse=True) and len(listed) == 3
    assert listed[0][1] == "p5-p95" and "o200" in listed[0][-1]
    assert listed[1][1] == "std/mean" and listed[1][3] == "ms*"


def test_re_measured_rows_of_a_phone_are_not_called_a_busy_machine():
    import pandas as pd

    layers = pd.DataFrame(
        {"median_ms": [1.0] * 4, "p5_ms": [0.99] * 4, "p95_ms": [1.01] * 4, "attempts": [2] * 4}
    )
    phone = quality_lines(assess(layers, {"backend_config": CONFIG}), "p.lut")
    host = quality_lines(assess(layers, {"backend_config": {"backend": "onnxruntime"}}), "h.lut")
    assert any("(an unsteady phone)" in x for x in phone)
    assert not any("busy machine" in x for x in phone)
    assert any("(a busy machine)" in x for x in host)


@pytest.mark.parametrize("version", [2, 3])
def test_an_older_file_gains_the_runner_columns(tmp_path, version):
    path = tmp_path / "old.lut"
    with LutStore.create(path, CONFIG, DEVICE, SETTINGS) as store:
        store.put_layer(spec(8), old_release(1.0, 0.1))
        conn = store._conn
        for table in ("layers", "models"):
            for column in (*RUNNER_COLUMNS, *([CHECKSUM_COLUMN] if version == 2 else [])):
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        if version == 3:  # a schema-3 row's checksum covers the columns it had
            (row,) = [dict(r) for r in conn.execute("SELECT * FROM layers")]
            conn.execute("UPDATE layers SET checksum = ?", (row_checksum("layers", row),))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    with LutStore.open(path, writable=False) as store:  # read as it is: noise by std/mean
        assert "p5_ms" not in store.layers_frame()
        assert assess_store(store).noise_bases == {"std/mean": 1}
    with LutStore.open(path) as store:
        assert store.meta["schema_version"] == SCHEMA_VERSION
        store.put_layer(spec(16), litert(1.0, 0.98, 1.02, 0.01))
        rows = store.layers_frame().set_index("cout")
        assert not store.damaged_rows()  # the old row's checksum still holds
    assert rows.loc[8, "p5_ms"] != rows.loc[8, "p5_ms"]  # NULL for the old row
    assert rows.loc[16, "p95_ms"] == pytest.approx(1.02)
