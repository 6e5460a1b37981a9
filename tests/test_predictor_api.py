"""The predictor end to end on a tiny LUT measured for real (onnxruntime, XGBoost, no mocks):
fit, save/load round trip, the metadata schema, refusing another LUT, missing layers."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import xgboost as xgb
from predictor_fixtures import build_lut, read_meta, replace_file, stored_file, variants, write_meta

from lut.store import LutStore
from lutnas.errors import LutnasError
from predictor import LatencyPredictor
from predictor.features import FEATURES
from predictor.persistence import read_dir, validate_meta


@pytest.fixture(scope="module")
def lut(tmp_path_factory):
    # layers of 12 variants (enough rows for the layer estimator), whole models of 6
    return build_lut(
        tmp_path_factory.mktemp("lut") / "tiny.lut", variants(), extra_layers_of=variants(12)[6:]
    )


@pytest.fixture(scope="module")
def fitted(lut):
    return LatencyPredictor.fit(lut)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return fitted.save(tmp_path_factory.mktemp("pred") / "tiny.predictor")


def test_fit_learns_a_correction_better_than_the_plain_sum(lut, fitted):
    with LutStore.open(lut) as store:
        models = store.models_frame()
    archs = [
        __import__("lutnas.spaces.arch").spaces.arch.Arch.from_json(j) for j in models["arch_json"]
    ]
    true = models["median_ms"].to_numpy()
    ours = fitted.predict_many(archs)
    plain = np.array([fitted.lut_sum_ms(a) for a in archs])
    assert np.all(np.isfinite(ours)) and np.all(ours > 0)

    # Compared on the fit's own loss, the RMS of the log ratio on its training models: a factor
    # on the sum and trees on what remains can only lower it (a broken fit raises it). A median
    # of six relative errors is not what the fit minimises; with real, noisy timings it sided
    # with the plain sum by chance (CI, 2026-11-26).
    def rms_log(pred):
        return float(np.sqrt(np.mean(np.log(pred / true) ** 2)))

    assert rms_log(ours) < rms_log(plain)
    single = np.array([fitted.predict(a) for a in archs])
    np.testing.assert_allclose(single, ours, rtol=1e-6)


def test_save_load_gives_identical_predictions(fitted, saved, lut):
    archs = variants()
    loaded = LatencyPredictor.load(saved)
    np.testing.assert_array_equal(fitted.predict_many(archs), loaded.predict_many(archs))
    a, b = fitted.predict_detail(archs[0]), loaded.predict_detail(archs[0])
    assert (a.latency_ms, a.low_ms, a.high_ms) == (b.latency_ms, b.low_ms, b.high_ms)
    with_lut = LatencyPredictor.load(saved, lut=lut)
    np.testing.assert_array_equal(fitted.predict_many(archs), with_lut.predict_many(archs))


def test_saved_files_are_json_and_ubj_not_pickle(saved):
    names = sorted(p.name for p in saved.iterdir())
    assert "meta.json" in names
    for name in ("point.ubj", "quantiles.ubj", "lut_rows.json"):  # stored under their hashes
        assert stored_file(saved, name).name in names
    assert all(n.endswith((".json", ".ubj")) for n in names), names
    for p in saved.iterdir():
        assert p.read_bytes()[:1] != b"\x80", f"{p.name} looks like a pickle"


def test_metadata_schema(saved, lut):
    meta, _ = read_dir(saved)
    assert validate_meta(meta) == []
    with LutStore.open(lut) as store:
        assert meta["lut"]["backend_config"] == store.backend_config
        assert meta["lut"]["settings"] == store.settings
        assert meta["lut"]["device"] == store.device
        assert meta["lut"]["rows"] == store.layer_count()
    assert meta["features"] == list(FEATURES)
    assert meta["training"]["measurements"] == len(variants())
    for key in ("within_5", "within_10", "rmspe", "interval_coverage"):
        assert key in meta["training"]["cv"]
    assert meta["tool_version"] and meta["xgboost"]
    assert set(meta["files"]) >= {"point.ubj", "quantiles.ubj", "lut_rows.json"}


def test_schema_check_finds_missing_fields():
    assert any("training" in p for p in validate_meta({"format": "lutnas-predictor"}))


def test_a_damaged_file_is_refused(fitted, tmp_path):
    path = fitted.save(tmp_path / "p.predictor")
    stored_file(path, "point.ubj").write_bytes(b"garbage")
    with pytest.raises(LutnasError, match="hash"):
        LatencyPredictor.load(path)


def _old_copy(saved, tmp_path):
    """A copy of the saved predictor and its metadata, to edit into an older one."""
    old = shutil.copytree(saved, tmp_path / "old.predictor")
    return old, read_meta(old)


def test_a_predictor_from_an_older_lutnas_asks_for_a_refit(saved, tmp_path):
    # written before the trees saw MODEL_FEATURES (and predictor.fast_trees existed): no
    # model_features record; such files used to fail with an IndexError inside fast_trees
    old, meta = _old_copy(saved, tmp_path)
    del meta["model_features"]
    write_meta(old, meta)
    with pytest.raises(LutnasError, match="written by an older lutnas") as info:
        LatencyPredictor.load(old)
    assert f"lutnas fit --lut {meta['lut']['path']} --out {old}" in str(info.value)


def test_trees_taking_another_feature_count_are_refused(saved, tmp_path):
    old, meta = _old_copy(saved, tmp_path)
    n = len(meta["features"])  # the trees of older versions took every feature
    x = np.random.default_rng(0).normal(size=(50, n)).astype(np.float32)
    data = bytes(xgb.train({"nthread": 1}, xgb.DMatrix(x, x[:, 0]), 3).save_raw("ubj"))
    replace_file(old, "point.ubj", data)
    with pytest.raises(LutnasError, match=f"takes {n} features.*lutnas fit --lut"):
        LatencyPredictor.load(old)


def test_a_predictor_with_another_linear_base_asks_for_a_refit(saved, tmp_path):
    # written before the base had a MACs term: six coefficients where this version reads seven
    old, meta = _old_copy(saved, tmp_path)
    terms = [t for t in meta["base"]["terms"] if t != "macs_m"]
    meta["base"] = {"terms": terms, "coef": meta["base"]["coef"][: len(terms)]}
    write_meta(old, meta)
    with pytest.raises(LutnasError, match="linear base on .*lutnas fit --lut") as info:
        LatencyPredictor.load(old)
    assert "macs_m" in str(info.value)


def test_a_lut_from_another_backend_configuration_is_refused(saved, lut, tmp_path):
    with LutStore.open(lut) as store:
        other_cfg = {**store.backend_config, "threads": 4}
        device, settings = store.device, store.settings
    LutStore.create(tmp_path / "other.lut", other_cfg, device, settings).close()
    with pytest.raises(LutnasError, match="threads") as err:
        LatencyPredictor.load(saved, lut=tmp_path / "other.lut")
    assert "lutnas fit --lut" in str(err.value)


def test_missing_layers_strict_lists_keys_and_the_command(fitted):
    arch = dataclasses.replace(variants()[0], resolution=40)  # no row at 40x40 is measured
    with pytest.raises(LutnasError) as err:
        fitted.predict(arch, strict=True)
    message = str(err.value)
    assert "profile-device --backend onnxruntime --threads 1" in message
    assert arch.layers()[0].key in message
    with pytest.raises(LutnasError, match="strict"):
        fitted.predict_detail(arch, strict=True)


def test_missing_layers_are_estimated_and_reported_never_zero(fitted):
    arch = dataclasses.replace(variants()[0], resolution=40)
    detail = fitted.predict_detail(arch)
    measured = {s.key for s in arch.layers() if s.op == "fc"}  # the classifier is in the LUT
    assert set(detail.estimated_keys) == {s.key for s in arch.layers()} - measured
    assert 0.5 < detail.estimated_share < 1.0
    assert detail.lut_sum_ms > 0 and detail.latency_ms > 0
    assert detail.low_ms <= detail.latency_ms <= detail.high_ms
    assert fitted.predict(arch) == pytest.approx(detail.latency_ms, rel=1e-6)


def test_without_an_estimator_missing_layers_are_an_error(lut):
    bare = LatencyPredictor.fit(lut, estimate_missing=False)
    arch = dataclasses.replace(variants()[0], resolution=40)
    with pytest.raises(LutnasError, match="not in the LUT"):
        bare.predict(arch)


def test_a_module_predicts_like_its_arch(fitted):
    arch = variants()[1]
    detail = fitted.predict_module(arch.build(), arch.input_shape, strict=True)
    assert detail.estimated_keys == ()
    assert detail.latency_ms == pytest.approx(fitted.predict(arch), rel=1e-6)


def test_out_of_distribution_is_flagged(fitted):
    import torchvision.models as tvm

    detail = fitted.predict_module(tvm.mobilenet_v3_small(weights=None), (1, 3, 32, 32))
    assert detail.out_of_distribution
    assert any("hswish" in r for r in detail.ood_reasons)
    inside = fitted.predict_detail(variants()[2])
    assert not inside.out_of_distribution, inside.ood_reasons


def test_cli_fit_and_predict(lut, tmp_path, capsys):
    from lutnas.cli.main import main

    out = tmp_path / "cli.predictor"
    assert main(["fit", "--lut", str(lut), "--out", str(out)]) == 0
    assert "fitted on 6 whole models" in capsys.readouterr().out
    arch_file = tmp_path / "arch.json"
    arch_file.write_text(variants()[3].to_json())
    assert main(["predict", "--predictor", str(out), "--arch-json", str(arch_file), "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["latency_ms"] > 0 and record["estimated_keys"] == []
    assert main(["predict", "--predictor", str(tmp_path / "nowhere"), "--arch", "mnasnet-a1"]) == 2
    assert "no predictor at" in capsys.readouterr().err


def test_missing_rows_are_measured_on_demand_into_the_lut(saved, lut, tmp_path):
    import shutil

    from profiler.base import get_backend

    copy = tmp_path / "copy.lut"
    shutil.copy(lut, copy)
    predictor = LatencyPredictor.load(saved, lut=copy)
    arch = dataclasses.replace(variants()[0], resolution=48)  # no row at 48x48 is measured
    wanted = {s.key for s in arch.layers() if s.op != "fc"}
    with pytest.raises(LutnasError, match="another configuration"):
        predictor.predict_module(
            arch.build(), arch.input_shape, backend=get_backend("torch", threads=1)
        )
    detail = predictor.predict_module(
        arch.build(), arch.input_shape, backend=get_backend("onnxruntime", threads=1)
    )
    assert set(detail.measured_keys) == wanted and detail.estimated_keys == ()
    with LutStore.open(copy) as store:
        assert wanted <= store.layer_keys()
    assert predictor.predict(arch, strict=True) == pytest.approx(detail.latency_ms, rel=1e-6)
