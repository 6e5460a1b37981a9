"""Calibrating a predictor to a new device: the model choice on known relations, and the
calibrated predictor end to end (every prediction path, save/load, bad measurements)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from test_search_fixtures import RESOLUTION

from lutnas.errors import LutnasError
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space
from predictor import LatencyPredictor
from predictor.calibrated import CalibratedPredictor
from predictor.calibration import Calibration, NetworkNumbers, _fit, fit_calibration
from predictor.features import layer_cost


def _networks(n: int, seed: int = 0) -> list[NetworkNumbers]:
    rng = np.random.default_rng(seed)
    return [
        NetworkNumbers(source_ms=float(p), macs_m=float(m), act_m=float(a), layers=int(k))
        for p, m, a, k in zip(
            rng.uniform(2, 30, n),
            rng.uniform(50, 600, n),
            rng.uniform(3, 40, n),
            rng.integers(15, 30, n),
            strict=True,
        )
    ]


def test_a_pure_scale_is_found_from_one_point_and_more():
    x = _networks(12)
    y = [2.5 * n.source_ms for n in x]
    one = fit_calibration(x[:1], y[:1])
    assert one.kind == "scale" and one.params[0] == pytest.approx(2.5)
    many = fit_calibration(x, y)
    assert many.kind == "shrunk"
    assert many.params == pytest.approx((2.5, 0.0, 0.0), abs=1e-6)  # nothing to free
    assert many.apply(x) == pytest.approx(y)
    assert many.loo_rmspe["scale"] == pytest.approx(0.0, abs=1e-6)


def test_a_target_weighing_arithmetic_and_memory_differently_is_found():
    x = _networks(10, seed=6)
    y = [0.6 * n.source_ms + 0.01 * n.macs_m - 0.05 * n.act_m for n in x]
    c = fit_calibration(x, y)
    assert c.kind == "shrunk" and c.params == pytest.approx((0.6, 0.01, -0.05), rel=1e-3)
    assert c.loo_rmspe["shrunk"] < 0.1 < 5 < c.loo_rmspe["scale"]
    assert c.apply(x) == pytest.approx(y, rel=1e-3)


def test_few_scattered_points_keep_the_map_near_one_factor():
    # the target is the source × 2 with 5 % noise: the two terms have nothing to explain, and
    # the evidence keeps them near 0 instead of fitting the noise
    rng = np.random.default_rng(7)
    x = _networks(6, seed=7)
    y = [2 * n.source_ms * rng.lognormal(0, 0.05) for n in x]
    c = fit_calibration(x, y)
    assert c.kind == "scale"  # the truth is one factor, and leaving one out says so
    c = Calibration(  # the shrunk map itself, as kept where it leaves one out better
        kind="shrunk",
        params=tuple(_fit("shrunk", x, np.array(y))),
        n=6,
        loo_rmspe={},
        interval_log=0.1,
    )
    unseen = _networks(200, seed=8)
    ratio = c.apply(unseen) / np.array([2 * n.source_ms for n in unseen])
    assert np.all(np.abs(ratio - 1) < 0.1), ratio
    free = np.linalg.lstsq(  # the same three terms fitted without the prior
        np.array([[n.source_ms, n.macs_m, n.act_m] for n in x]) / np.array(y)[:, None],
        np.ones(len(y)),
        rcond=None,
    )[0]
    free_ratio = (
        np.array([[n.source_ms, n.macs_m, n.act_m] for n in unseen])
        @ free
        / (2 * np.array([n.source_ms for n in unseen]))
    )
    assert np.abs(ratio - 1).max() < np.abs(free_ratio - 1).max()


def test_two_points_get_one_factor():
    x = _networks(2, seed=2)
    c = fit_calibration(x, [0.5 * n.source_ms + n.layers for n in x])
    assert c.kind == "scale" and c.loo_rmspe["shrunk"] is None


@pytest.mark.parametrize(
    "kind, params, want",
    [
        ("power", (0.9, 0.1), lambda n: math.exp(0.1) * n.source_ms**0.9),
        ("overhead", (0.6, 0.25), lambda n: 0.6 * n.source_ms + 0.25 * n.layers),
        ("macs", (0.02, 1.5), lambda n: 0.02 * n.macs_m + 1.5),
        ("mixed", (0.7, 0.01), lambda n: 0.7 * n.source_ms + 0.01 * n.macs_m),
        (
            "full",
            (0.7, 0.01, 0.1, 0.5),
            lambda n: 0.7 * n.source_ms + 0.01 * n.macs_m + 0.1 * n.layers + 0.5,
        ),
    ],
)
def test_maps_of_an_earlier_version_still_apply_when_loaded(kind, params, want):
    record = {
        "kind": kind,
        "params": list(params),
        "n": 10,
        "loo_rmspe": {kind: 3.0},
        "interval_log": 0.1,
    }
    x = _networks(5, seed=9)
    assert Calibration.from_dict(record).apply(x) == pytest.approx([want(n) for n in x])


@pytest.mark.parametrize("bad", [[0.0], [-1.0], [math.nan], []])
def test_impossible_latencies_are_refused(bad):
    with pytest.raises(LutnasError):
        fit_calibration(_networks(len(bad)), bad)


def test_the_record_round_trips_and_refuses_damage():
    c = fit_calibration(_networks(6), [3 * n.source_ms for n in _networks(6)])
    assert Calibration.from_dict(c.to_dict()) == c
    with pytest.raises(LutnasError, match="damaged"):
        Calibration.from_dict({**c.to_dict(), "kind": "magic"})
    with pytest.raises(LutnasError, match="damaged"):
        Calibration.from_dict({"kind": "scale"})


@pytest.fixture(scope="module")
def source(predictor_path) -> LatencyPredictor:
    return LatencyPredictor.load(predictor_path)


def _target_ms(source: LatencyPredictor, archs) -> list[float]:
    """A made-up target twice as slow, with arithmetic dearer still (+0.01 ms per million MACs):
    what a calibration must learn."""
    macs = [sum(layer_cost(s)[0] for s in a.layers()) for a in archs]
    return [2 * p + 0.01 * m for p, m in zip(source.predict_many(archs), macs, strict=True)]


def test_a_calibrated_predictor_predicts_the_target_on_every_path(source, tmp_path):
    space = get_space("mnasnet")
    archs = sample_archs(space, 14, seed=3, resolutions=(RESOLUTION,))
    train, held_out = archs[:10], archs[10:]
    target = source.calibrate(
        list(zip(train, _target_ms(source, train), strict=True)), device="Test phone"
    )
    assert isinstance(target, CalibratedPredictor)
    want = _target_ms(source, held_out)
    assert target.predict_many(held_out) == pytest.approx(want, rel=0.03)
    detail = target.predict_detail(held_out[0])
    assert detail.latency_ms == pytest.approx(target.predict(held_out[0]))
    assert detail.low_ms < detail.latency_ms < detail.high_ms
    assert "calibrated to Test phone from 10 measurements" in detail.summary()
    assert target.backend_config["device"] == "Test phone"
    assert target.fingerprint != source.fingerprint
    low, high = source.latency_range_ms
    assert target.latency_range_ms[0] > low and target.latency_range_ms[1] > high

    path = target.save(tmp_path / "target.predictor")
    again = LatencyPredictor.load(path)  # comes back calibrated
    assert isinstance(again, CalibratedPredictor)
    assert again.predict_many(held_out) == pytest.approx(target.predict_many(held_out))
    assert again.fingerprint == target.fingerprint

    import torchvision

    module = torchvision.models.mobilenet_v3_small(weights=None)
    shape = (1, 3, RESOLUTION, RESOLUTION)
    assert (
        target.predict_module(module, shape).latency_ms
        > source.predict_module(module, shape).latency_ms
    )  # the target is slower


def test_measurements_by_name_module_and_resolution(source):
    import torchvision

    a1 = dataclasses.replace(get_named_arch("mnasnet-a1"), resolution=RESOLUTION)
    items = [
        ("mnasnet-a1", RESOLUTION, 2 * source.predict(a1)),
        ("mobilenet_v2", RESOLUTION, 9.0),
        (torchvision.models.mobilenet_v3_small(weights=None), (1, 3, 160, 160), 4.0),
    ]
    target = source.calibrate(items, device="named")
    assert [m["network"] for m in target.record["measurements"]] == [
        "mnasnet-a1",
        "mobilenet_v2",
        "MobileNetV3",
    ]


def test_a_prior_from_another_space_is_used_with_its_caveats_said(source, tmp_path, caplog):
    # the source was fitted on MobileNetV2 variants (mnasnet space); networks of the
    # mobilenetv3 space rest on rows its LUT lacks, so the map fits the source's extrapolations
    from predictor_fixtures import mbv3_variants, variants

    foreign = mbv3_variants(4, RESOLUTION)
    with caplog.at_level("WARNING"):
        target = source.calibrate([(a, 5.0 + i) for i, a in enumerate(foreign)], device="x")
    caveats = target.caveats()
    assert "4 of 4 measured networks are from the search space(s) mobilenetv3" in caveats[0]
    assert "profile-device --space mobilenetv3" in caveats[0]
    assert any("rest on LUT rows the source does not hold" in c for c in caveats)
    assert caveats == [r.getMessage() for r in caplog.records]
    assert "outside the source's training set" in target.predict_detail(foreign[0]).calibration
    again = LatencyPredictor.load(target.save(tmp_path / "foreign.predictor"))
    assert again.caveats() == caveats

    # the source's own whole models (test_search_fixtures.small_predictor): nothing to warn of
    own = [dataclasses.replace(a, resolution=RESOLUTION) for a in variants(12)[:6]]
    target = source.calibrate(list(zip(own, _target_ms(source, own), strict=True)), device="x")
    assert target.caveats() == [] and "outside" not in target.describe()
    # one torchvision network among seven rests on estimated rows: normal, not worth a warning;
    # three of nine are a third of the points
    tv = [
        ("mobilenet_v2", RESOLUTION, 9.0),
        ("mnasnet1_0", RESOLUTION, 8.0),
        ("mobilenet_v3_small", RESOLUTION, 3.0),
    ]
    items = list(zip(own, _target_ms(source, own), strict=True))
    assert source.calibrate([*items, tv[0]], device="x").caveats() == []
    caveats = source.calibrate([*items, *tv], device="x").caveats()
    assert any(c.startswith("3 of 9 measured networks rest on LUT rows") for c in caveats)


@pytest.mark.parametrize(
    "item, message",
    [
        (("resnet9000", 5.0), "neither a named architecture"),
        (("mnasnet-a1", -2), "latency_ms must be a number of ms from"),
        (("mnasnet-a1", "fast"), "latency_ms must be a number of ms from"),
        (("mnasnet-a1", 1e-300), "from 0.001 to 1e\\+06"),  # the saved predictor would crash
        (("mnasnet-a1", 1e308), "from 0.001 to 1e\\+06"),
        (("mnasnet-a1", 7, 5.0), "resolution must be a whole number from 32 to 2048"),
        (("mobilenet_v2", 100000, 5.0), "resolution must be a whole number from 32 to 2048"),
        ((42, 5.0), "must be an Arch"),
        (("mnasnet-a1",), "a measurement is"),
    ],
)
def test_a_bad_measurement_is_named(source, item, message):
    with pytest.raises(LutnasError, match=message):
        source.calibrate([item], device="x")


def test_calibrating_twice_or_without_a_device_is_refused(source):
    a1 = get_named_arch("mnasnet-a1")
    with pytest.raises(LutnasError, match="name the target device"):
        source.calibrate([(a1, 10.0)], device=" ")
    once = source.calibrate([(a1, 10.0)], device="a")
    with pytest.raises(LutnasError, match="original predictor"):
        once.calibrate([(a1, 10.0)], device="b")


def test_the_command_reads_a_csv_and_names_bad_rows(predictor_path, tmp_path, capsys):
    from lutnas.cli.main import main

    a1 = dataclasses.replace(get_named_arch("mnasnet-a1"), resolution=192)  # another network
    (tmp_path / "a1.json").write_text(a1.to_json())
    good = tmp_path / "target.csv"
    good.write_text(
        "model,resolution,latency_ms\n"
        f"mnasnet-a1,{RESOLUTION},8.5\nmobilenetv2-1.0,{RESOLUTION},7.0\n"
        f"mobilenet_v2,{RESOLUTION},7.5\na1.json,,8.4\n"
    )
    out = tmp_path / "t.predictor"
    args = [
        "calibrate",
        "--predictor",
        str(predictor_path),
        "--measurements",
        str(good),
        "--device",
        "Pixel test",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "calibrated to Pixel test from 4 measurements (" in printed
    assert "leave-one-out RMSPE: one factor alone " in printed and ", the shrunk map " in printed
    assert "kept" in printed
    assert isinstance(LatencyPredictor.load(out), CalibratedPredictor)

    bad = tmp_path / "bad.csv"
    bad.write_text(f"model,resolution,latency_ms\nmnasnet-a1,{RESOLUTION},fast\n")
    assert main([*args[:3], "--measurements", str(bad), *args[5:]]) == 2
    assert f"bad.csv:2 (mnasnet-a1,{RESOLUTION},fast)" in capsys.readouterr().err
    bad.write_text("model,latency_ms\nmnasnet-a1,3\n")
    assert main([*args[:3], "--measurements", str(bad), *args[5:]]) == 2
    assert "missing column(s) resolution" in capsys.readouterr().err


def test_calibrating_from_whole_models_timed_on_the_target(predictor_path, tmp_path, capsys):
    # the second way: time a few whole models on the target (here: torch eager, a real other
    # backend), no layers, then fit with the host predictor as the prior
    from lutnas.cli.main import main
    from lutnas.cli.profile import main as profile_main

    lut = tmp_path / "target.lut"
    args = [
        "--backend",
        "torch",
        "--no-layers",
        "--whole-models",
        "4",
        "--resolution",
        str(RESOLUTION),
        "--runs",
        "5",
        "--warmup",
        "1",
        "--reference-every",
        "0",
        "--no-drift-correction",
        "--no-progress",
        "--out",
        str(lut),
    ]
    assert profile_main(args) == 0
    printed = capsys.readouterr().out
    assert "0 layers, 4 whole models" in printed and "--prior" in printed
    out = tmp_path / "torch.predictor"
    assert main(["fit", "--lut", str(lut), "--prior", str(predictor_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "calibrated to" in printed and "layer rows" not in printed  # it has none
    target = LatencyPredictor.load(out)
    assert isinstance(target, CalibratedPredictor) and target.calibration.n == 4
    assert "(torch)" in target.record["target_device"]
    assert profile_main(["--no-layers", "--out", str(tmp_path / "x.lut")]) == 2
    assert "give --whole-models N" in capsys.readouterr().err


def test_fit_with_a_prior_names_the_layers_it_leaves_unused(predictor_path, tmp_path, capsys):
    from lutnas.cli.main import main

    lut = predictor_path.parent / "small.lut"  # the fixture's own LUT: layers and whole models
    out = tmp_path / "again.predictor"
    assert main(["fit", "--lut", str(lut), "--prior", str(predictor_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "calibrated to" in printed
    assert f"also holds {LatencyPredictor.load(predictor_path).meta['lut']['rows']} layer rows" in (
        printed
    )


def test_fit_with_a_prior_from_another_space_warns(predictor_path, tmp_path, caplog):
    from lutnas.cli.main import main
    from lutnas.cli.profile import main as profile_main

    lut = tmp_path / "mbv3.lut"
    timing = ["--runs", "3", "--warmup", "1", "--reference-every", "0", "--no-drift-correction"]
    args = ["--backend", "torch", "--space", "mobilenetv3", "--no-layers", "--whole-models", "3"]
    assert profile_main([*args, "--resolution", str(RESOLUTION), *timing, "--no-progress",
                         "--out", str(lut)]) == 0  # fmt: skip
    out = tmp_path / "mbv3.predictor"
    with caplog.at_level("WARNING"):
        assert (
            main(["fit", "--lut", str(lut), "--prior", str(predictor_path), "--out", str(out)]) == 0
        )
    said = [r.getMessage() for r in caplog.records]
    assert any(
        "3 of 3 measured networks are from the search space(s) mobilenetv3" in m for m in said
    )
    assert LatencyPredictor.load(out).caveats()
