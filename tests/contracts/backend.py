"""The contract every profiler backend passes. Subclass ``BackendContract`` and provide the
``backend`` fixture (an entered backend); see tests/test_backends_host.py."""

from __future__ import annotations

import json

import pytest
import torch

from lut.measurement import Measurement
from lut.modules import build_layer
from lut.spec import LayerSpec
from profiler.base import Backend, BackendError, Workload
from profiler.loop import layer_workload

SMALL = LayerSpec(
    op="dconv",
    kernel=3,
    expansion=1,
    se_ratio=0.0,
    skip="noskip",
    act="relu",
    cin=16,
    cout=16,
    stride=1,
    input_h=14,
    input_w=14,
)
BIG = LayerSpec(
    op="conv",
    kernel=3,
    expansion=1,
    se_ratio=0.0,
    skip="noskip",
    act="relu",
    cin=96,
    cout=96,
    stride=1,
    input_h=56,
    input_w=56,
)


class _Broken(torch.nn.Module):
    def forward(self, x):
        raise RuntimeError("this layer cannot run")


def broken_workload() -> Workload:
    # The input shape does not fit the layer: export and execution both fail.
    spec = LayerSpec(
        op="conv",
        kernel=3,
        expansion=1,
        se_ratio=0.0,
        skip="noskip",
        act="relu",
        cin=8,
        cout=8,
        stride=1,
        input_h=8,
        input_w=8,
    )
    return Workload("broken-layer-key", lambda: build_layer(spec), (1, 5, 8, 8))


class BackendContract:
    warmup = 2
    runs = 7

    @pytest.fixture
    def backend(self) -> Backend:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_is_registered_under_its_name(self, backend):
        from profiler.base import backend_class

        assert backend_class(backend.name) is type(backend)

    def test_config_is_json_and_stable(self, backend):
        config = backend.config()
        assert config["backend"] == backend.name
        assert "threads" in config and "device" in config
        assert json.loads(json.dumps(config)) == config
        assert backend.config() == config
        assert json.loads(json.dumps(backend.device_info()))

    def test_measurement_has_every_statistic_in_ms(self, backend):
        m = backend.measure(layer_workload(SMALL), self.warmup, self.runs)
        assert isinstance(m, Measurement)
        assert m.n == self.runs and m.warmup == self.warmup
        assert 0 < m.median_ms < 1000 and m.mean_ms > 0
        if m.p10_ms is not None:
            assert m.p10_ms <= m.median_ms <= m.p90_ms
        if m.std_ms is not None:
            assert m.std_ms >= 0

    def test_more_work_takes_longer(self, backend):
        # BIG has ~250x the multiply-adds of SMALL; any real timer sees that.
        small = backend.measure(layer_workload(SMALL), self.warmup, self.runs).median_ms
        big = backend.measure(layer_workload(BIG), self.warmup, self.runs).median_ms
        assert big > 3 * small

    def test_failure_names_the_workload_and_leaves_the_backend_usable(self, backend):
        with pytest.raises(BackendError, match="broken-layer-key"):
            backend.measure(broken_workload(), self.warmup, self.runs)
        assert backend.measure(layer_workload(SMALL), self.warmup, self.runs).median_ms > 0
