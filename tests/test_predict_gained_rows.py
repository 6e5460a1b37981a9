"""Rows a predictor's LUT gains after ``lutnas fit`` (``lutnas predict --measure-missing``,
profile-device) are used by the next ``lutnas predict`` and ``lutnas calibrate``, which say so;
``--strict`` refuses in the command line's terms (issue 23, item 3). Real LUT, real
onnxruntime timings of the missing rows, real XGBoost."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from predictor_fixtures import build_lut, variants

from lut.store import LutStore
from lutnas.cli.main import main
from predictor import LatencyPredictor

RESOLUTION = 48  # no row at 48x48 is in the LUT: every layer but the classifier is missing


@pytest.fixture(scope="module")
def fitted_dir(tmp_path_factory):
    """A predictor fitted on a LUT of its own (the tests below add rows to that LUT)."""
    root = tmp_path_factory.mktemp("gained")
    lut = build_lut(root / "host.lut", variants(), extra_layers_of=variants(12)[6:])
    LatencyPredictor.fit(lut).save(root / "host.predictor")
    return root


@pytest.fixture(scope="module")
def arch_file(fitted_dir):
    path = fitted_dir / "arch48.json"
    path.write_text(dataclasses.replace(variants()[0], resolution=RESOLUTION).to_json())
    return path


def _predict(capsys, predictor, arch_file, *extra) -> tuple[int, dict | None, str]:
    code = main(
        ["predict", "--predictor", str(predictor), "--arch-json", str(arch_file), "--json", *extra]
    )
    out, err = capsys.readouterr()
    return code, (json.loads(out.splitlines()[-1]) if code == 0 else None), err


def test_rows_measured_after_the_fit_are_used_by_the_next_predict(fitted_dir, arch_file, capsys):
    predictor, lut = fitted_dir / "host.predictor", fitted_dir / "host.lut"
    code, _, err = _predict(capsys, predictor, arch_file, "--strict")
    assert code == 2
    # in the command line's terms: its flags and the profile-device command, no Python
    assert "--strict refuses to estimate them" in err and "drop --strict to estimate them" in err
    assert f"--out {lut.resolve()} --archs {arch_file}" in err and "--measure-missing" in err
    assert "strict=True" not in err and "lut=LUT" not in err

    code, first, err = _predict(capsys, predictor, arch_file)
    assert code == 0 and first["estimated_keys"]  # without --measure-missing: estimated

    code, measured, err = _predict(capsys, predictor, arch_file, "--measure-missing")
    assert code == 0 and measured["estimated_keys"] == []
    assert set(measured["measured_keys"]) == set(first["estimated_keys"])
    assert f"rows measured and added to {lut.resolve()}" in err
    with LutStore.open(lut, writable=False) as store:
        assert set(measured["measured_keys"]) <= store.layer_keys()

    # the next predict, from a fresh process state, uses them and says so; --strict passes
    code, again, err = _predict(capsys, predictor, arch_file, "--strict")
    assert code == 0 and again["estimated_keys"] == [] and again["measured_keys"] == []
    n = len(measured["measured_keys"])
    assert f"using {n} rows measured into {lut.resolve()} after {predictor} was fitted" in err
    assert again["latency_ms"] == pytest.approx(measured["latency_ms"], rel=1e-9)

    # the library keeps the predictor as fitted until asked
    loaded = LatencyPredictor.load(predictor)
    assert set(measured["measured_keys"]).isdisjoint(loaded.lut_rows)
    assert set(loaded.add_rows_gained()) == set(measured["measured_keys"])
    assert loaded.add_rows_gained() == ()  # once


def test_calibrate_uses_the_rows_too(fitted_dir, capsys):
    # networks at 48 px: their rows measured into the LUT after the fit, then calibrated on;
    # the calibration rests on measured rows, so it has no caveat about estimated ones
    predictor = fitted_dir / "host.predictor"
    lines = ["model,resolution,latency_ms"]
    for i, arch in enumerate(variants()[1:4]):
        path = fitted_dir / f"calibrate{i}.json"
        path.write_text(dataclasses.replace(arch, resolution=RESOLUTION).to_json())
        assert _predict(capsys, predictor, path, "--measure-missing")[0] == 0
        lines.append(f"{path.name},{RESOLUTION},{2.0 + i}")
    csv = fitted_dir / "target.csv"
    csv.write_text("\n".join(lines) + "\n")
    out = fitted_dir / "target.predictor"
    args = ["calibrate", "--predictor", str(predictor), "--measurements", str(csv)]
    assert main([*args, "--device", "target", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "rows measured into" in err and "rest on LUT rows the source does not hold" not in err
    calibrated = LatencyPredictor.load(out)
    assert all(r["estimated_share"] == 0 for r in calibrated.record["measurements"])


def test_a_replaced_or_missing_lut_leaves_the_predictor_as_fitted(fitted_dir, arch_file, capsys):
    root = fitted_dir / "replaced"
    root.mkdir()
    lut = root / "host.lut"
    shutil.copy(fitted_dir / "host.lut", lut)
    LatencyPredictor.fit(lut).save(root / "p")
    with LutStore.open(lut, writable=False) as store:
        cfg, device, settings = {**store.backend_config, "threads": 4}, store.device, store.settings
    lut.unlink()
    code, record, err = _predict(capsys, root / "p", arch_file)  # not on this machine: silent
    assert code == 0 and err == ""
    LutStore.create(lut, cfg, device, settings).close()  # another configuration at its path
    code, record, err = _predict(capsys, root / "p", arch_file)
    assert code == 0 and record["latency_ms"] > 0
    assert f"note: the rows of {lut.resolve()} are not used" in err and "threads" in err
