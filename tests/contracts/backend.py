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


# one small layer of every graph unit kind: pools, grouped / plain convs, residual blocks with a
# conv shortcut, and the units of several inputs (add, concat) or outputs (split)
GRAPH_UNITS = (
    "maxpool_k3_e1_se0_noskip_none_i8_o8_s2_in14x14",
    "avgpool_k3_e1_se0_noskip_none_i8_o8_s2_in14x14_countpad",
    "gpool_k1_e1_se0_noskip_none_i16_o16_s1_in7x7",
    "conv_k3_e1_se0_noskip_relu_i16_o16_s1_in14x14_g4",
    "conv_k3_e1_se0_noskip_relu_i8_o16_s1_in13x13_pad0_nobn",
    "basic_k3_e1_se0_convskip_relu_i8_o16_s2_in14x14_postrelu",
    "bottleneck_k3_e2_se0.25_idskip_relu_i16_o16_s1_in7x7_g4_postrelu",
    "add_k1_e1_se0_noskip_relu_i16_o16_s1_in14x14",
    "mul_k1_e1_se0_noskip_none_i16_o16_s1_in14x14",
    "concat_k1_e1_se0_noskip_none_i24_o24_s1_in14x14_parts8-16",
    "split_k1_e1_se0_noskip_none_i16_o16_s1_in14x14_parts8-8",
    "shuffle_k1_e1_se0_noskip_none_i16_o16_s1_in14x14_g2",
)


def forked_graph():
    """A small network that forks and joins: stem → maxpool → split → (part 0, part 1 → conv)
    → concat → shuffle → add (of the shuffle and the maxpool: a tensor read twice) → gpool →
    fc, as a :class:`lut.network.SpecGraph`."""
    from lut.network import SpecGraph

    spec = LayerSpec.from_key
    specs = (
        spec("stem_k3_e1_se0_noskip_relu_i3_o16_s2_in32x32"),
        spec("maxpool_k3_e1_se0_noskip_none_i16_o16_s2_in16x16"),
        spec("split_k1_e1_se0_noskip_none_i16_o16_s1_in8x8_parts8-8"),
        spec("conv_k3_e1_se0_noskip_relu_i8_o8_s1_in8x8"),
        spec("concat_k1_e1_se0_noskip_none_i16_o16_s1_in8x8_parts8-8"),
        spec("shuffle_k1_e1_se0_noskip_none_i16_o16_s1_in8x8_g2"),
        spec("add_k1_e1_se0_noskip_relu_i16_o16_s1_in8x8"),
        spec("gpool_k1_e1_se0_noskip_none_i16_o16_s1_in8x8"),
        spec("fc_k1_e1_se0_noskip_relu_i16_o10_s1_in1x1"),
    )
    inputs = (((-1, 0),), ((0, 0),), ((1, 0),), ((2, 1),), ((2, 0), (3, 0)), ((4, 0),),
              ((5, 0), (1, 0)), ((6, 0),), ((7, 0),))  # fmt: skip
    return SpecGraph(specs, inputs, (8, 0), (1, 3, 32, 32))


def forked_network() -> Workload:
    """:func:`forked_graph` built from lutnas's layer modules: what a backend whose exporter
    writes only those times as a decomposed network."""
    from lut.network import build_network

    graph = forked_graph()
    return Workload("forked-network", lambda: build_network(graph), graph.input_shape)


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

    def test_times_every_graph_unit_and_a_forked_network(self, backend):
        for key in GRAPH_UNITS:
            m = backend.measure(layer_workload(LayerSpec.from_key(key)), 1, 3)
            assert m.n == 3 and m.median_ms > 0, key
        m = backend.measure(forked_network(), 1, 3)
        assert m.n == 3 and m.median_ms > 0

    def test_failure_names_the_workload_and_leaves_the_backend_usable(self, backend):
        with pytest.raises(BackendError, match="broken-layer-key"):
            backend.measure(broken_workload(), self.warmup, self.runs)
        assert backend.measure(layer_workload(SMALL), self.warmup, self.runs).median_ms > 0
