"""int8 and fp16 LUTs and the GPU and NNAPI delegates on the emulated phone: export -> push ->
run -> parse through adbutils, the real adb server and the emulated phone, whose stand-in
benchmark_model runs the pushed file with LiteRT (int8 as it is, fp16 in XNNPACK's fp16 mode)
and prints what the tool and its delegates print (tests/adbemu/fake_delegates.py).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from predictor_fixtures import variants
from test_adb_backend import SPECS
from test_adb_runners import SETTINGS, _phone_lut

from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas.cli.profile import main as profile_main
from lutnas.errors import LutnasError
from profiler.backends.adb import AdbBackend
from profiler.loop import layer_workload, profile_layers

pytestmark = pytest.mark.adb

# a layer with an SE block: its squeeze is a MEAN, which the emulated delegate may refuse
SE_LAYER = LayerSpec.from_key("mbconv_k3_e3_se0.25_idskip_relu_i16_o16_s1_in14x14")


@pytest.fixture
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "model-cache"  # shared: export each layer once


def _runs(phone) -> list[str]:
    return phone.runner_calls("--graph=")


@pytest.mark.parametrize(
    "precision,delegate,flags",
    [
        ("int8", "xnnpack", ["--use_xnnpack=true"]),
        ("fp16", "xnnpack", ["--use_xnnpack=true", "--xnnpack_force_fp16=true"]),
        (
            "fp16",
            "gpu",
            ["--use_xnnpack=false", "--use_gpu=true", "--gpu_precision_loss_allowed=true"],
        ),
        ("fp32", "gpu", ["--use_gpu=true", "--gpu_precision_loss_allowed=false"]),
        ("int8", "nnapi", ["--use_xnnpack=false", "--use_nnapi=true"]),
        ("fp16", "nnapi", ["--use_nnapi=true", "--nnapi_allow_fp16=true"]),
        ("int8", "none", ["--use_xnnpack=false"]),
    ],
)
def test_each_precision_and_delegate_is_timed_with_its_flags(
    phone, benchmark_model_runner, cache, tmp_path, precision, delegate, flags
):
    options = {"runner": benchmark_model_runner, "cache_dir": cache}
    with AdbBackend(**options, precision=precision, delegate=delegate) as backend:
        config = backend.config()
        with LutStore.create(
            tmp_path / "phone.lut", config, backend.device_info(), SETTINGS.identity()
        ) as store:
            report = profile_layers(backend, store, [*SPECS, SE_LAYER], SETTINGS, progress=False)
            rows = store.layers_frame()
    assert not report.failed
    assert (config["precision"], config["delegate"]) == (precision, delegate)
    assert ("tflite_int8_version" in config) == (precision == "int8")
    assert len(rows) == len(SPECS) + 1 and (rows["median_ms"] > 0).all()
    runs = _runs(phone)
    assert len(runs) == len(rows)
    for command in runs:
        assert all(flag in command for flag in flags), command
        assert ("--use_xnnpack=true" in command) == (delegate == "xnnpack")


def test_a_graph_the_gpu_delegate_takes_in_part_is_reported_not_timed(
    phone, benchmark_model_runner, cache, tmp_path, monkeypatch
):
    monkeypatch.setenv("ADBEMU_DELEGATE_REFUSES", "MEAN")  # the emulated GPU refuses MEAN
    options = {"runner": benchmark_model_runner, "cache_dir": cache}
    with AdbBackend(**options, precision="int8", delegate="gpu") as backend:
        with LutStore.create(
            tmp_path / "phone.lut", backend.config(), backend.device_info(), SETTINGS.identity()
        ) as store:
            report = profile_layers(backend, store, [*SPECS, SE_LAYER], SETTINGS, progress=False)
            keys = store.layer_keys()
    with_se = {s.key for s in [*SPECS, SE_LAYER] if s.se_ratio > 0}  # SE squeezes by MEAN
    assert SE_LAYER.key in with_se and set(report.failed) == with_se
    message = report.failed[SE_LAYER.key]
    assert "the GPU delegate took only part of the graph" in message
    assert "MEAN: Operation is not supported." in message and "not timed" in message
    assert keys == {s.key for s in SPECS} - with_se  # the layers it took whole are in the LUT
    assert keys  # and there are some


def test_a_delegate_that_takes_nothing_is_reported(
    phone, benchmark_model_runner, cache, monkeypatch
):
    ops = "PAD,CONV_2D,DEPTHWISE_CONV_2D,ADD,MUL,MEAN,LOGISTIC,FULLY_CONNECTED,RESHAPE"
    monkeypatch.setenv("ADBEMU_DELEGATE_REFUSES", ops)
    with AdbBackend(runner=benchmark_model_runner, cache_dir=cache, delegate="nnapi") as backend:
        with pytest.raises(Exception, match="the NNAPI delegate took none of the graph"):
            backend.measure(layer_workload(SPECS[0]), 1, 3)


@pytest.mark.parametrize("precision", ["int8", "fp16"])
def test_profile_device_with_whole_models_on_the_phone(
    phone, benchmark_model_runner, tmp_path, monkeypatch, capsys, precision
):
    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / f"{precision}.lut"
    args = [
        *("--backend", "adb", "--runner", str(benchmark_model_runner), "--precision", precision),
        *("--resolution", "64", "--arch", "mnasnet-a1", "--limit", "2", "--whole-models", "1"),
        *("--runs", "3", "--warmup", "1", "--reference-every", "0", "--cv-threshold", "100"),
        *("--no-progress", "--out", str(out)),
    ]
    assert profile_main(args) == 0
    with LutStore.open(out) as store:
        assert store.backend_config["precision"] == precision
        assert len(store.models_frame()) == 1
    flag = "--xnnpack_force_fp16=true"
    assert _runs(phone) and all((flag in c) == (precision == "fp16") for c in _runs(phone))
    # resuming it as fp32 is refused: another configuration
    assert profile_main([*args[:4], *args[6:]]) == 2
    assert f"precision: file has '{precision}', this run 'fp32'" in capsys.readouterr().err


def test_onnxruntime_perf_test_times_fp32_only(phone, perf_test_runner, tmp_path):
    with pytest.raises(LutnasError, match="times fp32 ONNX models on the CPU only"):
        AdbBackend(runner=perf_test_runner, cache_dir=tmp_path, precision="int8")
    with pytest.raises(LutnasError, match="times fp32 ONNX models on the CPU only"):
        AdbBackend(runner=perf_test_runner, cache_dir=tmp_path, delegate="gpu")


@pytest.mark.slow
def test_int8_phone_lut_to_predictor_search_phone_file_and_verify(
    phone_factory, benchmark_model_runner, cache, tmp_path, capsys
):
    """The int8 chain: a phone LUT, a predictor that carries int8, a search that writes an int8
    best_arch.tflite and --verify that times the top networks on the phone in int8."""
    from ai_edge_litert.interpreter import Interpreter

    from lutnas.cli.main import main

    phone = phone_factory()
    archs = [dataclasses.replace(a, resolution=96) for a in variants(12)]
    options = {"runner": benchmark_model_runner, "cache_dir": cache}
    with AdbBackend(**options, precision="int8") as backend:
        _phone_lut(tmp_path / "phone.lut", backend, archs[:6], archs[6:])
    predictor = tmp_path / "phone.predictor"
    assert main(["fit", "--lut", str(tmp_path / "phone.lut"), "--out", str(predictor)]) == 0
    meta = json.loads((predictor / "meta.json").read_text())
    assert meta["lut"]["backend_config"]["precision"] == "int8"
    low, high = meta["training"]["latency_range_ms"]
    from lutnas.spaces.io import save_archs

    save_archs(tmp_path / "a.json", [archs[0]])  # predict runs on the int8 predictor
    capsys.readouterr()
    predict = ["predict", "--predictor", str(predictor), "--arch-json", str(tmp_path / "a.json")]
    assert main(predict) == 0
    assert " ms" in capsys.readouterr().out
    timed_before = len(_runs(phone))
    search = [
        *("search", "--predictor", str(predictor), "--target-ms", f"{(low + high) / 2:.4f}"),
        *("--budget", "4", "--batch-size", "4", "--workers", "1", "--evaluator", "zero-cost"),
        *("--evaluator-opt", "batch=8", "--strategy", "random", "--no-progress"),
        *("--out", str(tmp_path / "search"), "--verify", "1", "--runner"),
        str(benchmark_model_runner),
    ]
    assert main(search) == 0
    printed = capsys.readouterr().out
    assert "phone file:" in printed and "(int8, xnnpack delegate)" in printed
    interpreter = Interpreter(model_path=str(tmp_path / "search" / "best_arch.tflite"))
    assert interpreter.get_input_details()[0]["dtype"].__name__ == "int8"
    summary = json.loads((tmp_path / "search" / "summary.json").read_text())
    assert summary["phone_file"]["precision"] == "int8"
    assert len(_runs(phone)) > timed_before  # --verify timed the best on the phone ...
    from predictor import LatencyPredictor
    from search.verify import phone_backend

    config = LatencyPredictor.load(predictor).backend_config  # ... configured as the LUT: int8
    backend = phone_backend(config, {"runner": benchmark_model_runner})
    assert (backend.precision, backend.delegate) == ("int8", "xnnpack")
