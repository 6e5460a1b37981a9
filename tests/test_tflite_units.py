"""The .tflite writer on the pooling and graph units (max pool, grouped conv, element-wise add
and mul, concat, split, shuffle, residual blocks with a conv shortcut) and on whole decomposed
networks: each file computes what torch computes and runs as one XNNPACK partition.

Max pools that need an explicit pad are written with zeros (XNNPACK takes no -inf pad, see
profiler/tflite/units.py): they are compared on non-negative inputs, the only inputs a max pool
sees in the networks decomposed here (each follows a ReLU).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from contracts.backend import forked_graph
from test_tflite_export import assert_one_xnnpack_partition, randomize

from lut.modules import build_layer
from lut.network import build_network
from lut.spec import LayerSpec
from profiler.tflite import module_to_tflite, op_names

UNITS = [
    # max pools: SAME-able, explicit pad at stride 2 on even inputs, ceil_mode, even kernel
    ("maxpool_k3_e1_se0_noskip_none_i8_o8_s2_in9x9", "MAX_POOL_2D"),
    ("maxpool_k3_e1_se0_noskip_none_i8_o8_s2_in10x10", "PAD"),
    ("maxpool_k3_e1_se0_noskip_none_i8_o8_s2_in12x12_pad0_ceil", "MAX_POOL_2D"),
    ("maxpool_k3_e1_se0_noskip_none_i8_o8_s2_in10x11_pad0_ceil", "MAX_POOL_2D"),
    ("maxpool_k2_e1_se0_noskip_none_i8_o8_s2_in9x9_ceil", "MAX_POOL_2D"),
    ("maxpool_k3_e1_se0_noskip_none_i8_o8_s1_in7x7", "MAX_POOL_2D"),
    # average pools, global pool
    ("avgpool_k3_e1_se0_noskip_none_i8_o8_s2_in10x10", "AVERAGE_POOL_2D"),
    ("avgpool_k3_e1_se0_noskip_none_i8_o8_s2_in10x10_countpad", "AVERAGE_POOL_2D"),
    ("avgpool_k2_e1_se0_noskip_none_i8_o8_s2_in8x8", "AVERAGE_POOL_2D"),
    ("gpool_k1_e1_se0_noskip_none_i8_o8_s1_in7x7", "MEAN"),
    # grouped, depthwise without act, plain (bias, no BN), unpadded convs
    ("conv_k3_e1_se0_noskip_relu_i16_o24_s2_in10x10_g4", "CONV_2D"),
    ("conv_k3_e1_se0_noskip_none_i8_o8_s2_in10x10_g8", "DEPTHWISE_CONV_2D"),
    ("conv_k3_e1_se0_noskip_relu_i8_o12_s1_in9x9_nobn", "CONV_2D"),
    ("stem_k7_e1_se0_noskip_relu_i3_o8_s2_in21x21_pad0_nobn", "CONV_2D"),
    # element-wise and joins
    ("add_k1_e1_se0_noskip_relu_i8_o8_s1_in6x6", "ADD"),
    ("add_k1_e1_se0_noskip_none_i8_o8_s1_in6x6", "ADD"),
    ("mul_k1_e1_se0_noskip_hswish_i8_o8_s1_in6x6", "MUL"),
    ("concat_k1_e1_se0_noskip_none_i12_o12_s1_in5x5_parts4-8", "CONCATENATION"),
    ("concat_k1_e1_se0_noskip_none_i21_o21_s1_in4x4_parts1-2-3-4-5-6", "CONCATENATION"),
    ("split_k1_e1_se0_noskip_none_i16_o16_s1_in5x5_parts8-8", "SPLIT"),
    ("split_k1_e1_se0_noskip_none_i12_o12_s1_in5x5_parts4-8", "STRIDED_SLICE"),
    ("shuffle_k1_e1_se0_noskip_none_i12_o12_s1_in5x5_g2", "TRANSPOSE"),
    # residual blocks: ResNet's basic and bottleneck, RegNet's grouped bottleneck with SE
    ("basic_k3_e1_se0_idskip_relu_i8_o8_s1_in8x8_postrelu", "ADD"),
    ("basic_k3_e1_se0_convskip_relu_i8_o16_s2_in8x8_postrelu", "ADD"),
    ("bottleneck_k3_e1_se0_convskip_relu_i16_o32_s1_in6x6_mid8_postrelu", "ADD"),
    ("bottleneck_k3_e2_se0.25_convskip_relu_i8_o16_s2_in9x9_sq2_g4_postrelu", "ADD"),
    ("mbconv_k3_e6_se0_convskip_relu6_i8_o16_s2_in8x8", "ADD"),
]


def _inputs(shapes, non_negative: bool) -> list[np.ndarray]:
    g = torch.Generator().manual_seed(1)
    xs = [torch.randn(s, generator=g) for s in shapes]
    return [x.abs() if non_negative else x for x in xs]


def _nhwc(t: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(t if t.ndim == 2 else t.transpose(0, 2, 3, 1))


def run_all(tflite: bytes, xs: list[np.ndarray], delegate: bool) -> list[np.ndarray]:
    resolver = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=tflite, num_threads=1, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), xs, strict=True):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def assert_same_as_torch(module, tflite: bytes, shapes, non_negative: bool = False) -> None:
    xs = _inputs(shapes, non_negative)
    with torch.no_grad():
        ref = module(*xs)
    refs = [_nhwc(r.numpy()) for r in (ref if isinstance(ref, tuple) else (ref,))]
    for delegate in (True, False):
        outs = run_all(tflite, [_nhwc(x.numpy()) for x in xs], delegate)
        assert len(outs) == len(refs)
        for out, r in zip(outs, refs, strict=True):
            assert out.shape == r.shape
            diff, scale = np.abs(out - r).max(), np.abs(r).max()
            assert diff <= 1e-4 * scale + 1e-5, f"xnnpack={delegate}: |diff| {diff} at {scale}"


@pytest.mark.parametrize(("key", "op"), UNITS, ids=[k for k, _ in UNITS])
def test_unit_matches_torch_in_one_xnnpack_partition(key, op):
    spec = LayerSpec.from_key(key)
    torch.manual_seed(0)
    module = randomize(build_layer(spec))
    tflite = module_to_tflite(
        module, spec.input_shapes if len(spec.input_shapes) > 1 else spec.input_shape
    )
    assert op in op_names(tflite)
    assert_one_xnnpack_partition(tflite)
    assert_same_as_torch(module, tflite, spec.input_shapes, non_negative=spec.op == "maxpool")


def test_a_small_graph_of_units_matches_torch():
    """Every edge kind: a tensor read twice, a split's outputs read by different layers."""
    graph = forked_graph()
    torch.manual_seed(0)
    net = randomize(build_network(graph))
    tflite = module_to_tflite(net, graph.input_shape)
    assert_one_xnnpack_partition(tflite)
    assert_same_as_torch(net, tflite, [graph.input_shape])
