"""One LUT and one predictor for both search spaces (the session's ``both_spaces_predictor_path``:
whole models of mnasnet and of the mobilenetv3 space at 160 px, measured with onnxruntime): the
LUT holds layers and whole models of each space, the predictor records both, predicts either
space's networks (and a torchvision MobileNetV3 module) sanely, and flags a network far outside
what it was fitted on."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torchvision.models as tvm

from lut.store import LutStore
from lutnas.spaces.arch import Arch
from lutnas.spaces.named import get_named_arch
from predictor import LatencyPredictor

RESOLUTION = 160
NAMED = {"mobilenetv3": "ofa-mbv3-min", "mnasnet": "mobilenetv2-1.0"}  # space: network in it
# A prediction is its LUT sum times a learned ratio; that ratio lies within this factor of the
# ratios (whole model ÷ LUT sum) of the networks it was fitted on. Not of 1, and not of any
# fixed number: those ratios are measured while the suite runs, and beside other processes a
# whole model (many scheduler slices long) slows while a short layer's median does not (a
# 160 px network once timed 7x its LUT sum).
SANE = 4.0


@pytest.fixture(scope="module")
def predictor(both_spaces_predictor_path) -> LatencyPredictor:
    return LatencyPredictor.load(both_spaces_predictor_path)


@pytest.fixture(scope="module")
def lut(predictor):
    with LutStore.open(predictor.lut_path, writable=False) as store:
        yield store


def _named(space: str, resolution: int = RESOLUTION) -> Arch:
    arch = dataclasses.replace(get_named_arch(NAMED[space]), resolution=resolution)
    assert arch.space == space
    return arch


def _named_record(name: str) -> Arch:
    """Any named network at 160 px."""
    return dataclasses.replace(get_named_arch(name), resolution=RESOLUTION)


@pytest.fixture(scope="module")
def ratios(predictor, lut) -> tuple[float, float]:
    """The lowest and highest whole model ÷ LUT sum of the networks fitted on."""
    models = lut.models_frame()
    found = [
        ms / predictor.lut_sum_ms(Arch.from_json(j))
        for j, ms in zip(models["arch_json"], models["median_ms"], strict=True)
    ]
    return min(found), max(found)


def _sane(ms: float, lut_sum_ms: float, ratios: tuple[float, float]) -> bool:
    low, high = ratios
    ok = math.isfinite(ms) and ms > 0 and lut_sum_ms > 0
    return ok and low / SANE < ms / lut_sum_ms < high * SANE


def test_the_predictor_records_both_spaces(predictor):
    assert set(predictor.training_spaces) == {"mnasnet", "mobilenetv3"}
    assert predictor.training_resolutions == (RESOLUTION,)
    assert predictor.meta["training"]["measurements"] == 16
    low, high = predictor.latency_range_ms
    assert 0 < low < high


def test_the_lut_holds_layers_and_whole_models_of_both_spaces(lut):
    models = lut.models_frame()
    assert models["space"].value_counts().to_dict() == {"mnasnet": 8, "mobilenetv3": 8}
    assert set(models["resolution"]) == {RESOLUTION}
    for row in models.itertuples():  # each row's JSON is an architecture of its space
        arch = Arch.from_json(row.arch_json)
        assert (arch.space, arch.key, arch.problems()) == (row.space, row.arch_key, [])
    keys = lut.layer_keys()
    for space in NAMED:
        arch = _named(space)
        assert {s.key for s in arch.layers()} <= keys, f"layers of {space} missing"
        assert arch.key in set(models["arch_key"]), f"{arch.key} was measured whole"
    layers = lut.layers_frame()
    assert {"hswish", "relu"} <= set(layers["act"])  # mobilenetv3's and mnasnet's activations
    assert {"fcact", "stem", "dconv", "mbconv", "head", "fc"} <= set(layers["op"])
    assert (layers["se_ratio"] > 0).any()  # mobilenetv3's squeeze-and-excitation layers


@pytest.mark.parametrize("space", list(NAMED))
def test_networks_of_either_space_are_predicted_from_measured_rows(space, predictor, lut, ratios):
    arch = _named(space)
    ms = predictor.predict(arch, strict=True)  # strict: every row is in the LUT
    detail = predictor.predict_detail(arch, strict=True)
    assert detail.latency_ms == pytest.approx(ms, rel=1e-6)
    assert detail.low_ms <= detail.latency_ms <= detail.high_ms
    assert detail.estimated_keys == () and detail.estimated_share == 0.0
    assert detail.layers == tuple(s.key for s in arch.layers())
    assert detail.lut_sum_ms == pytest.approx(predictor.lut_sum_ms(arch), rel=1e-9)
    rows = lut.latency_ms(detail.layers)
    assert detail.lut_sum_ms == pytest.approx(sum(rows[k] for k in detail.layers), rel=1e-6)
    assert _sane(ms, detail.lut_sum_ms, ratios), (ms, detail.lut_sum_ms, ratios)
    # it is one of the fitted whole models: inside the training range (how near its
    # measurement is accuracy: benchmarks/predictor_accuracy.py)
    assert arch.key in set(lut.models_frame()["arch_key"])
    assert not detail.out_of_distribution, detail.ood_reasons


def test_one_call_predicts_archs_of_both_spaces(predictor):
    archs = [_named("mobilenetv3"), _named("mnasnet"), _named("mobilenetv3", 128)]
    together = predictor.predict_many(archs)
    assert together.shape == (3,)
    assert list(together) == pytest.approx([predictor.predict(a) for a in archs], rel=1e-9)
    assert all(math.isfinite(x) and x > 0 for x in together)


def test_torchvision_mobilenet_v3_modules_are_predicted(predictor, ratios):
    shape = (1, 3, RESOLUTION, RESOLUTION)
    small = predictor.predict_module(tvm.mobilenet_v3_small(weights=None), shape)
    assert math.isfinite(small.latency_ms) and small.latency_ms > 0
    assert _sane(small.latency_ms, small.lut_sum_ms, ratios)
    assert small.low_ms <= small.latency_ms <= small.high_ms
    # the Small base is another space: most of its rows are estimated, and that is reported
    assert small.estimated_keys and 0 < small.estimated_share <= 1
    assert set(small.estimated_keys) <= set(small.layers)
    same = predictor.predict_detail(_named_record("mobilenetv3-small"))
    assert small.layers == same.layers
    assert small.latency_ms == pytest.approx(same.latency_ms, rel=1e-6)

    # MobileNetV3-Large decomposes into the mobilenetv3 space's layers: the same prediction as
    # the named network at the same resolution
    large = predictor.predict_module(tvm.mobilenet_v3_large(weights=None), shape)
    named = predictor.predict_detail(_named_record("mobilenetv3-large"))
    assert large.layers == named.layers
    assert large.latency_ms == pytest.approx(named.latency_ms, rel=1e-6)
    assert _sane(large.latency_ms, large.lut_sum_ms, ratios)


def test_a_network_far_outside_the_training_range_is_flagged(predictor):
    arch = dataclasses.replace(get_named_arch("ofa-mbv3-max"), resolution=224)
    detail = predictor.predict_detail(arch)
    assert detail.out_of_distribution and detail.ood_reasons
    assert any(r.startswith("lut_ms=") for r in detail.ood_reasons), detail.ood_reasons
    assert "OUT OF DISTRIBUTION" in detail.summary()
    assert math.isfinite(detail.latency_ms) and detail.latency_ms > 0
    assert detail.estimated_keys  # its 224 px layers were never measured: estimated, reported
    # above the LUT sums of every fitted network: a relation between LUT sums (the rows of
    # both timed alike), never against the whole models' latencies, which another process's
    # load can raise above a 224 px LUT sum (7.7 ms against 13.2 ms seen in one run)
    assert detail.lut_sum_ms > predictor.meta["ood"]["ranges"]["lut_ms"][1]
    # the smallest network of the space at the resolution fitted on is inside
    assert not predictor.predict_detail(_named("mobilenetv3")).out_of_distribution
