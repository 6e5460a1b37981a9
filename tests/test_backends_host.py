"""The host backends pass the shared backend contract; host-specific behaviour."""

import os
from dataclasses import replace

import numpy as np
import pytest
from contracts import BackendContract
from contracts.backend import SMALL

from lutnas.errors import LutnasError
from profiler.backends.onnxruntime import OnnxRuntimeBackend
from profiler.base import get_backend, list_backends, register_backend
from profiler.loop import layer_workload


class TestOnnxRuntimeContract(BackendContract):
    @pytest.fixture
    def backend(self, tmp_path):
        with get_backend("onnxruntime", threads=1, cache_dir=tmp_path) as b:
            yield b


class TestTorchContract(BackendContract):
    @pytest.fixture
    def backend(self):
        with get_backend("torch", threads=1) as b:
            yield b


class TestLiteRtContract(BackendContract):
    @pytest.fixture
    def backend(self, tmp_path):
        with get_backend("litert", threads=1, cache_dir=tmp_path) as b:
            yield b


def test_litert_config_names_runtime_and_delegate(tmp_path):
    config = get_backend("litert", threads=2, cache_dir=tmp_path).config()
    assert config["backend"] == "litert" and config["threads"] == 2
    assert config["delegate"] == "xnnpack" and config["litert"][0].isdigit()
    assert config["exporter"] != "torchscript"  # the .tflite writer, not the ONNX exporter


def test_registry():
    assert {"onnxruntime", "torch", "litert", "adb"} <= set(list_backends())
    with pytest.raises(LutnasError, match="unknown backend 'tflite'"):
        get_backend("tflite")
    with pytest.raises(LutnasError, match="already registered"):
        register_backend("onnxruntime", OnnxRuntimeBackend)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this OS")
def test_pins_to_one_core_and_restores():
    before = os.sched_getaffinity(0)
    with get_backend("torch", threads=1):
        assert len(os.sched_getaffinity(0)) == 1
    assert os.sched_getaffinity(0) == before


def test_onnx_export_is_cached(tmp_path):
    with get_backend("onnxruntime", cache_dir=tmp_path) as b:
        b.measure(layer_workload(SMALL), 1, 3)
        files = list(tmp_path.glob("*.onnx"))
        assert len(files) == 1
        mtime = files[0].stat().st_mtime_ns
        b.measure(layer_workload(SMALL), 1, 3)
        assert [f.stat().st_mtime_ns for f in tmp_path.glob("*.onnx")] == [mtime]


def test_threads_are_part_of_the_config(tmp_path):
    one = get_backend("onnxruntime", threads=1, cache_dir=tmp_path).config()
    four = get_backend("onnxruntime", threads=4, cache_dir=tmp_path).config()
    assert one != four and four["threads"] == 4


def test_host_backend_is_recreated_from_a_lut_config(tmp_path):
    from profiler.base import host_backend

    for name in ("onnxruntime", "torch", "litert"):
        config = get_backend(name, threads=2).config()
        again = host_backend(config)
        assert again.name == name and again.config() == config
    ort = host_backend({"backend": "onnxruntime", "threads": 1, "graph_optimization": "none"})
    assert ort.config()["graph_optimization"] == "none"
    with pytest.raises(LutnasError, match="--verify runs on host backends.*'adb'"):
        host_backend({"backend": "adb", "threads": 1}, "--verify")


@pytest.mark.parametrize("name", ["onnxruntime", "litert"])
def test_layers_of_one_input_shape_share_one_draw_of_random_values(name, tmp_path):
    same_input = [SMALL, replace(SMALL, kernel=5), replace(SMALL, cout=32)]
    with get_backend(name, cache_dir=tmp_path) as backend:
        backend.prepared(layer_workload(same_input[0]))
        [(key, first)] = backend._inputs.items()
        for spec in same_input[1:]:
            backend.prepared(layer_workload(spec))
            assert list(backend._inputs) == [key] and backend._inputs[key] is first  # not redrawn
        backend.prepared(layer_workload(replace(SMALL, input_h=28, input_w=28)))
        assert len(backend._inputs) == 2
    # the values each runner drew for itself before: seed 0, the backend's own draw
    [x] = first
    rng = np.random.default_rng(0)
    drawn = rng.standard_normal(x.shape, np.float32) if name == "onnxruntime" else None
    drawn = rng.standard_normal(x.shape).astype(np.float32) if drawn is None else drawn
    assert x.dtype == np.float32 and np.array_equal(x, drawn)
    assert sorted(x.shape) == sorted((1, 16, 14, 14))  # NCHW for ONNX, NHWC for LiteRT
