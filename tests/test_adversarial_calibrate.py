"""``lutnas calibrate`` in the adversarial run of 2026-12-02 (issue 25) and a newcomer's day
(issue 23, item 8), kept as tests: every probe here failed on that day's code (main at 01d9c52)
and passes now.

Probes (S = silently wrong, T = traceback, H = hang, M = misleading message):

- S5-S8 1e-300 ms accepted (and the saved predictor crashed every ``predict``), 1e308 ms,
  resolution 7, conflicting duplicate rows (7.0 and 70.0 ms); T16 resolution 100000
  (allocation error): :func:`test_unusable_measurements_are_refused_naming_file_and_line`.
- T10 a binary CSV (UnicodeDecodeError): same test.
- M2 a UTF-8 byte-order mark, and (23.8) a header with spaces, gave "missing column(s)", without
  the header found: :func:`test_a_bom_or_spaced_header_is_read`,
  :func:`test_a_missing_column_shows_the_header_found`.
- 23.8 a JSON row's own resolution silently replaced by the CSV's:
  :func:`test_a_json_rows_resolution_is_its_own`.
- 23.8 with 3 points a map whose leave-one-out error was worse than one factor's was kept
  without a word: :func:`test_the_map_kept_leaves_one_out_no_worse_and_says_so`.
- H2 quadratic in rows (10,000 rows: 959 s, 1.4 GB, no progress):
  :func:`test_calibrating_is_linear_in_its_rows_and_shows_progress`.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from sklearn.linear_model import BayesianRidge

from lutnas.cli.main import main
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space
from predictor import LatencyPredictor
from predictor.model import Fitted

HEADER = "model,resolution,latency_ms\n"


def _calibrate(predictor_path, tmp_path, capsys, text: str | bytes) -> tuple[int, str, str]:
    csv_file = tmp_path / "target.csv"
    if isinstance(text, bytes):
        csv_file.write_bytes(text)
    else:
        csv_file.write_text(text)
    argv = ["calibrate", "--predictor", str(predictor_path), "--measurements", str(csv_file)]
    code = main([*argv, "--device", "phone", "--out", str(tmp_path / "c.predictor")])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "rows, message",
    [
        ("mobilenetv2-1.0,160,1e-300\n", "target.csv:2: .*latency_ms must be a number of ms"),
        ("mobilenetv2-1.0,160,1e308\n", "target.csv:2: .*latency_ms must be a number of ms"),
        ("mobilenetv2-1.0,160,5\nmnasnet-a1,7,4\n", "target.csv:3 .*resolution must be from 32"),
        ("mobilenet_v2,100000,5\n", "target.csv:2 .*resolution must be from 32 to 2048"),
        (
            "mobilenetv2-1.0,160,7.0\nmnasnet-a1,160,9\nmobilenetv2-1.0,160,70.0\n",
            "target.csv:4 measures mobilenetv2-1.0 at 160 px again \\(.*target.csv:2: 7 ms, "
            "here 70 ms\\)",
        ),
        (b"\x00\x01\x02\xff\xfe" * 40, "target.csv:1: not UTF-8 text"),
    ],
    ids=["1e-300-ms", "1e308-ms", "resolution-7", "resolution-100000", "duplicate", "binary"],
)
def test_unusable_measurements_are_refused_naming_file_and_line(
    predictor_path, tmp_path, capsys, rows, message
):
    text = rows if isinstance(rows, bytes) else HEADER + rows
    code, _, err = _calibrate(predictor_path, tmp_path, capsys, text)
    assert code == 2 and "Traceback" not in err, err
    assert re.search(message, err), err
    assert not (tmp_path / "c.predictor").exists()


def test_a_bom_or_spaced_header_is_read(predictor_path, tmp_path, capsys):
    rows = "mobilenetv2-1.0,160,7.0\nmnasnet-a1,160,8.0\n"
    for header in ("\ufeffmodel,resolution,latency_ms\n", "model, resolution , latency_ms\n"):
        code, out, err = _calibrate(predictor_path, tmp_path, capsys, header + rows)
        assert code == 0, err
        assert "calibrated to phone from 2 measurements" in out


def test_a_missing_column_shows_the_header_found(predictor_path, tmp_path, capsys):
    code, _, err = _calibrate(predictor_path, tmp_path, capsys, "model;resolution;ms\nx;1;2\n")
    assert code == 2
    assert "target.csv:1: missing column(s) model, resolution, latency_ms" in err
    assert "the header found is 'model;resolution;ms'" in err


def test_a_json_rows_resolution_is_its_own(predictor_path, tmp_path, capsys):
    arch = dataclasses.replace(get_named_arch("mnasnet-a1"), resolution=192)
    (tmp_path / "a.json").write_text(arch.to_json())
    text = HEADER + "a.json,,8.0\nmobilenetv2-1.0,160,7.0\n"  # empty: the file's 192 px
    code, _, err = _calibrate(predictor_path, tmp_path, capsys, text)
    assert code == 0, err
    record = LatencyPredictor.load(tmp_path / "c.predictor").record
    assert record["measurements"][0]["resolution"] == 192
    text = HEADER + "a.json,224,8.0\nmobilenetv2-1.0,160,7.0\n"  # another: which one ran?
    code, _, err = _calibrate(predictor_path, tmp_path, capsys, text)
    assert code == 2
    assert "target.csv:2 (a.json,224,8.0): the row says 224 px" in err
    assert "holds an architecture at 192 px" in err


def test_the_map_kept_leaves_one_out_no_worse_and_says_so(predictor_path, tmp_path, capsys):
    # three scattered points: the shrunk map can pass through all three and leave each out
    # badly (the probe's 28.0 % against one factor's 20.2 %)
    text = HEADER + "mobilenetv2-1.0,160,4.0\nmnasnet-a1,160,9.0\nmobilenet_v2,160,5.0\n"
    code, out, err = _calibrate(predictor_path, tmp_path, capsys, text)
    assert code == 0, err
    c = LatencyPredictor.load(tmp_path / "c.predictor").calibration
    kept, other = c.loo_rmspe[c.kind], c.loo_rmspe["shrunk" if c.kind == "scale" else "scale"]
    assert kept <= other
    assert c.choice() in out
    assert "(kept)" in out.splitlines()[1]


def test_calibrating_is_linear_in_its_rows_and_shows_progress(
    predictor_path, tmp_path, capsys, monkeypatch
):
    source = LatencyPredictor.load(predictor_path)
    archs = sample_archs(get_space("mnasnet"), 150, 11, (160,))
    ms = source.predict_many(archs) * 2 * np.random.default_rng(0).lognormal(0, 0.05, 150)
    fits, model_calls = [], []
    real_fit, real_predict = BayesianRidge.fit, Fitted.predict_log_ratio

    def fit(self, *args, **kwargs):
        fits.append(1)
        return real_fit(self, *args, **kwargs)

    def predict(self, x):
        model_calls.append(len(x))
        return real_predict(self, x)

    monkeypatch.setattr(BayesianRidge, "fit", fit)
    monkeypatch.setattr(Fitted, "predict_log_ratio", predict)
    target = source.calibrate(list(zip(archs, ms, strict=True)), device="phone")
    assert model_calls == [150]  # the source's predictions of all networks in one call
    assert len(fits) <= 3  # leave-one-out through the hat matrix, not 150 refits
    assert target.calibration.n == 150
    assert "calibrate: networks" in capsys.readouterr().err  # a progress bar
