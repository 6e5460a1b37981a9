"""The .tflite writer: every layer lutnas can express, whole architectures and decomposed torch
networks come out as files LiteRT runs wholly in XNNPACK and that compute what torch computes.

Equivalence: the file's output through ``ai_edge_litert``'s Interpreter (1 thread; with the
XNNPACK delegate and with TFLite's own kernels) against the torch module's on the same input,
NCHW → NHWC, to ``1e-4 × max|out| + 1e-5``. BN running statistics are randomised first (a fresh
BN is the identity and would hide a wrong fold).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from torch import nn

from lut.modules import build_layer
from lut.spec import LayerSpec
from profiler.base import BackendError, Workload
from profiler.export import onnx_path, tflite_export_settings, tflite_path
from profiler.tflite import DELEGATED_OPS, ConversionError, module_to_tflite, op_names
from profiler.tflite import graph as tflite_graph
from profiler.tflite.rules import plan_padding
from profiler.workloads import layer_workload

VARIANTS = [
    # stem, stride 2 on even and odd inputs
    "stem_k3_e1_se0_noskip_relu_i3_o8_s2_in16x16",
    "stem_k3_e1_se0_noskip_hswish_i3_o8_s2_in15x15",
    # conv: kernels 3/5/7, SE with its default gates, pool skips
    "conv_k3_e1_se0_noskip_relu6_i8_o16_s1_in9x9",
    "conv_k5_e1_se0.25_noskip_hswish_i8_o12_s2_in10x10",
    "conv_k7_e1_se0.25_poolskip_silu_i8_o12_s2_in11x11",
    "conv_k5_e1_se0.25_poolskip_hswish_i8_o12_s1_in9x9_gatesigmoid",
    # dconv
    "dconv_k3_e1_se0_idskip_relu_i8_o8_s1_in8x8",
    "dconv_k5_e1_se0.25_poolskip_relu6_i8_o8_s2_in10x10",
    "dconv_k3_e1_se0.5_noskip_relu_i16_o16_s2_in12x12_gatehsigmoid",
    "dconv_k7_e1_se0_poolskip_relu6_i8_o16_s2_in12x13",
    # mbconv: e1 (no expand), e3, e6; every act; poolskip s1/s2, cin == cout and cin != cout
    "mbconv_k3_e1_se0_idskip_relu_i8_o8_s1_in8x8",
    "mbconv_k5_e3_se0_poolskip_hswish_i8_o16_s2_in11x11",
    "mbconv_k7_e6_se0.25_poolskip_silu_i8_o8_s2_in10x10",
    "mbconv_k3_e6_se0_poolskip_relu6_i8_o16_s1_in7x7",
    "mbconv_k5_e3_se0.25_poolskip_relu_i8_o8_s1_in9x9",
    "mbconv_k3_e6_se0.25_idskip_hswish_i8_o8_s1_in6x6",
    # MobileNetV3 / EfficientNet suffixes: _mid, _sq, _seact, _gate
    "mbconv_k3_e2_se0.25_idskip_hswish_i8_o8_s1_in8x8_mid20_sq3_seactsilu",
    "mbconv_k5_e4_se0.25_noskip_relu_i8_o12_s2_in8x8_mid28_seacthswish_gatehsigmoid",
    "mbconv_k3_e3_se0.25_noskip_silu_i8_o8_s2_in9x9_sq4_seactrelu6",
    # head and classifier
    "head_k1_e1_se0_noskip_relu6_i8_o32_s1_in7x7",
    "head_k1_e1_se0_noskip_hswish_i8_o24_s1_in4x5",
    "fc_k1_e1_se0_noskip_relu_i16_o10_s1_in1x1",
    "fcact_k1_e1_se0_noskip_hswish_i16_o32_s1_in1x1",
    "fcact_k1_e1_se0_noskip_relu_i16_o32_s1_in1x1",
]


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine parameters (a fresh BN is the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(c, generator=g) * 2 + 0.2)
                m.weight.copy_(torch.randn(c, generator=g) * 0.5 + 1)
                m.bias.copy_(torch.randn(c, generator=g) * 0.5)
    return module.eval()


@functools.cache
def exported(key: str) -> tuple[nn.Module, bytes]:
    spec = LayerSpec.from_key(key)
    torch.manual_seed(0)
    module = randomize(build_layer(spec))
    return module, module_to_tflite(module, spec.input_shape)


def run_tflite(tflite: bytes, x: np.ndarray, delegate: bool = True) -> np.ndarray:
    resolver = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(
        model_content=tflite, num_threads=1, experimental_op_resolver_type=resolver
    )
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details(), interpreter.get_output_details()
    assert len(inp) == 1 and len(out) == 1
    interpreter.set_tensor(inp[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(out[0]["index"])


def assert_matches_torch(module: nn.Module, tflite: bytes, input_shape: tuple[int, ...]) -> None:
    x = torch.randn(input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # torch runs after the export: writing must not change the module
        ref = module(x).numpy()
    x_nhwc = x.numpy() if x.ndim == 2 else x.permute(0, 2, 3, 1).numpy()
    ref = ref if ref.ndim == 2 else ref.transpose(0, 2, 3, 1)
    for delegate in (True, False):
        out = run_tflite(tflite, np.ascontiguousarray(x_nhwc), delegate)
        assert out.shape == ref.shape
        diff, scale = np.abs(out - ref).max(), np.abs(ref).max()
        assert diff <= 1e-4 * scale + 1e-5, f"xnnpack={delegate}: max |diff| {diff} at {scale}"


def constant_tensors(tflite: bytes) -> set[int]:
    model = schema.Model.GetRootAsModel(tflite, 0)
    subgraph = model.Subgraphs(0)
    return {
        i
        for i in range(subgraph.TensorsLength())
        if model.Buffers(subgraph.Tensors(i).Buffer()).DataLength() > 0
    }


def assert_one_xnnpack_partition(tflite: bytes) -> None:
    """The interpreter replaced the whole graph by one XNNPACK node: exactly one DELEGATE node,
    reading only the graph input (and constants) and writing the graph output."""
    assert set(op_names(tflite)) <= DELEGATED_OPS, op_names(tflite)
    interpreter = Interpreter(model_content=tflite, num_threads=1)
    interpreter.allocate_tensors()
    nodes = [n for n in interpreter._get_ops_details() if n["op_name"] == "DELEGATE"]
    assert len(nodes) == 1, f"{len(nodes)} delegated partitions"
    reads = {int(t) for t in nodes[0]["inputs"]} - constant_tensors(tflite)
    assert reads == {d["index"] for d in interpreter.get_input_details()}
    writes = {int(t) for t in nodes[0]["outputs"]}
    assert writes == {d["index"] for d in interpreter.get_output_details()}


@pytest.mark.parametrize("key", VARIANTS)
def test_layer_matches_torch(key):
    module, tflite = exported(key)
    assert_matches_torch(module, tflite, LayerSpec.from_key(key).input_shape)


def test_every_variant_is_one_xnnpack_partition_of_delegated_ops():
    for key in VARIANTS:
        assert_one_xnnpack_partition(exported(key)[1])


def test_the_partition_check_sees_an_op_xnnpack_does_not_take(monkeypatch):
    monkeypatch.setattr(tflite_graph, "DELEGATED_OPS", DELEGATED_OPS | {"ZEROS_LIKE"})
    graph = tflite_graph.Graph()
    x = graph.add_input((1, 4, 4, 8))
    y = graph.add_op("HARD_SWISH", [graph.add_op("ZEROS_LIKE", [x], (1, 4, 4, 8))], (1, 4, 4, 8))
    with pytest.raises(AssertionError):
        assert_one_xnnpack_partition(graph.to_bytes([y]))


def test_padding_follows_torch_not_same():
    # stride 2 on an even input: TFLite SAME would pad 0 before, 1 after; torch pads 1 before
    assert plan_padding((10, 10), (3, 3), (2, 2), (1, 1)) == (False, ((1, 0), (1, 0)), (5, 5))
    assert plan_padding((11, 11), (3, 3), (2, 2), (1, 1))[0]
    assert plan_padding((10, 11), (5, 5), (1, 1), (2, 2))[0]
    assert "PAD" in op_names(exported("stem_k3_e1_se0_noskip_relu_i3_o8_s2_in16x16")[1])
    assert "PAD" not in op_names(exported("stem_k3_e1_se0_noskip_hswish_i3_o8_s2_in15x15")[1])


def test_ops_are_fused_where_tflite_allows():
    ops = op_names(exported("mbconv_k5_e3_se0.25_poolskip_relu_i8_o8_s1_in9x9")[1])
    assert "RELU" not in ops  # fused into the convs
    assert ops.count("AVERAGE_POOL_2D") == 1 and "PAD" not in ops  # SAME pool at stride 1
    assert op_names(exported("head_k1_e1_se0_noskip_relu6_i8_o32_s1_in7x7")[1]) == [
        "CONV_2D",
        "MEAN",
    ]


@pytest.fixture(scope="module")
def small_archs():
    from lutnas.spaces.named import get_named_arch

    return {
        name: dataclasses.replace(get_named_arch(name), resolution=96)
        for name in ("mnasnet-a1", "mobilenetv2-1.0")
    }


def test_whole_arch_matches_torch_in_one_xnnpack_partition(small_archs):
    for arch in small_archs.values():
        torch.manual_seed(0)
        module = randomize(arch.build().eval())
        tflite = module_to_tflite(module, arch.input_shape)
        assert_one_xnnpack_partition(tflite)
        assert_matches_torch(module, tflite, arch.input_shape)


def test_decomposed_torchvision_layers_export(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    from predictor.decompose import decompose_module

    specs = decompose_module(
        torchvision.models.mobilenet_v3_small(weights=None), (1, 3, 96, 96)
    ).specs
    assert len(specs) > 10
    for spec in specs:
        torch.manual_seed(0)
        module = randomize(build_layer(spec))
        tflite = module_to_tflite(module, spec.input_shape)
        assert_one_xnnpack_partition(tflite)
        assert_matches_torch(module, tflite, spec.input_shape)


GENERIC = {
    # standalone BN, hard-sigmoid not after a conv (ADD + RELU6), dilated and multiplier-2
    # depthwise convs, a count_include_pad pool, global pool → Identity → Flatten (RESHAPE)
    "generic-4d": (
        nn.Sequential(
            nn.BatchNorm2d(3),
            nn.Hardsigmoid(),
            nn.Conv2d(3, 4, 3, stride=2, padding=2, dilation=2),
            nn.ReLU6(),
            nn.Conv2d(4, 8, 3, padding=1, groups=4),
            nn.AvgPool2d(3, 2, 1, count_include_pad=True),
            nn.AvgPool2d(2),
            nn.Dropout(),
            nn.AdaptiveAvgPool2d(1),
            nn.Identity(),
            nn.Flatten(),
            nn.Linear(8, 6),
            nn.SiLU(),
            nn.Sigmoid(),
        ),
        (1, 3, 14, 14),
    ),
    "generic-2d": (nn.Sequential(nn.Linear(8, 6, bias=False), nn.ReLU(), nn.ReLU6()), (1, 8)),
    # +3 of the hard-sigmoid folds into the FC bias (a copy: the module stays as it was)
    "generic-fc-hsigmoid": (nn.Sequential(nn.Linear(8, 6), nn.Hardsigmoid()), (1, 8)),
}


@pytest.mark.parametrize("name", sorted(GENERIC))
def test_other_supported_modules_match_torch(name):
    module, shape = GENERIC[name]
    torch.manual_seed(0)
    for p in module.parameters():
        nn.init.normal_(p)
    module = randomize(module)
    tflite = module_to_tflite(module, shape)
    assert_one_xnnpack_partition(tflite)
    assert_matches_torch(module, tflite, shape)


def test_unsupported_module_is_named():
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.GELU())
    with pytest.raises(ConversionError, match=r"module 1 of type GELU"):
        module_to_tflite(module, (1, 3, 8, 8))
    with pytest.raises(ConversionError, match="MaxPool2d with dilation"):
        module_to_tflite(nn.MaxPool2d(3, dilation=2), (1, 4, 8, 8))


def test_graph_refuses_ops_xnnpack_does_not_take():
    graph = tflite_graph.Graph()
    x = graph.add_input((1, 4))
    with pytest.raises(tflite_graph.GraphError, match="SOFTMAX"):
        graph.add_op("SOFTMAX", [x], (1, 4))


SMALL = LayerSpec.from_key("dconv_k3_e1_se0_noskip_relu_i8_o8_s1_in8x8")


def test_tflite_path_caches(tmp_path):
    builds = []

    def build():
        builds.append(1)
        return build_layer(SMALL)

    workload = Workload(SMALL.key, build, SMALL.input_shape)
    first = tflite_path(workload, tmp_path)
    assert first.suffix == ".tflite" and first.parent == tmp_path
    mtime = first.stat().st_mtime_ns
    assert tflite_path(workload, tmp_path) == first and len(builds) == 1
    assert first.stat().st_mtime_ns == mtime
    assert op_names(first.read_bytes()) == ["DEPTHWISE_CONV_2D", "CONV_2D"]
    assert tflite_export_settings()["exporter"] == "lutnas-tflite"
    # ONNX shares the cache logic: its own suffix and name in the same directory
    onnx = onnx_path(layer_workload(SMALL), tmp_path)
    assert onnx.suffix == ".onnx" and onnx.stem != first.stem


def test_default_tflite_cache_is_beside_onnx(tmp_path, monkeypatch):
    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path))
    path = tflite_path(layer_workload(SMALL))
    assert path.parent == tmp_path / "tflite"


def test_failed_export_names_the_workload_and_leaves_no_file(tmp_path):
    bad = Workload("gelu-layer-key", lambda: nn.Sequential(nn.GELU()), (1, 3, 8, 8))
    with pytest.raises(BackendError, match="gelu-layer-key.*GELU"):
        tflite_path(bad, tmp_path)
    wrong_shape = Workload("wrong-shape-key", lambda: build_layer(SMALL), (1, 5, 8, 8))
    with pytest.raises(BackendError, match="wrong-shape-key"):
        tflite_path(wrong_shape, tmp_path)

    def broken():
        raise RuntimeError("cannot build")

    with pytest.raises(BackendError, match="broken-key"):
        tflite_path(Workload("broken-key", broken, (1, 3, 8, 8)), tmp_path)
    assert list(tmp_path.iterdir()) == []
