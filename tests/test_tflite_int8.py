"""The int8 writer: every layer lutnas can express and whole architectures come out as fully
quantized files (TFLite's int8 scheme) that LiteRT runs as one XNNPACK partition and that compute
what their fp32 module computes, within quantization error.

Faithfulness, per layer: the int8 file's dequantized output against the fp32 torch module's
(BatchNorm statistics of random inputs, see ``profiler.tflite.int8.with_batch_statistics``) on
the calibration inputs: relative L2 error below 5 %, and each int8 op against its fp32 op on the
same inputs below 5 %. Whole networks: each op within the writer's own limit (10 %, where a
collapsed or saturated tensor is near 100 %; small late feature maps of a random network are
heavy-tailed, and min/max per-tensor int8 costs their pooled means 3-5 %). A whole random network
amplifies per-op errors with depth (docs/precision.md), so its logits are held to not being
degenerate: their correlation with the fp32 logits above 0.8 (a degenerate graph is near 0).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter
from test_tflite_export import VARIANTS, assert_one_xnnpack_partition

from lut.modules import build_layer
from lut.spec import LayerSpec
from lut.unit_modules import ChannelSplit, Eltwise
from profiler.tflite import int8_rules as quantize_rules
from profiler.tflite.calibrate import calibrate, calibration_inputs
from profiler.tflite.convert import module_to_graph
from profiler.tflite.int8 import (
    MAX_OP_ERROR,
    check_int8,
    module_to_int8_tflite,
    with_batch_statistics,
)
from profiler.tflite.int8_check import op_errors, relative_error, run_int8
from profiler.tflite.quantize import Quantizer
from profiler.tflite.rules import ConversionError

FEW_PERCENT = 0.05


def _nhwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape if len(shape) == 2 else (1, shape[2], shape[3], shape[1])


def _torch(module: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(x if x.ndim == 2 else np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    with torch.no_grad():
        out = module(t).numpy()
    return out if out.ndim == 2 else out.transpose(0, 2, 3, 1)


@dataclasses.dataclass
class Quantized:
    module: torch.nn.Module  # with batch statistics: what the file computes
    tflite: bytes
    graph: object
    qgraph: object
    mapping: dict[int, int]
    inputs: list[np.ndarray]


def quantized(module: torch.nn.Module, input_shape: tuple[int, ...]) -> Quantized:
    """The int8 file of ``module`` as module_to_int8_tflite writes it, with its parts."""
    torch.manual_seed(0)
    module = with_batch_statistics(module.eval(), input_shape)
    graph, y = module_to_graph(module, input_shape)
    inputs = calibration_inputs(_nhwc(tuple(input_shape)))
    constants = {i for i, t in enumerate(graph.tensors) if t.data is not None}
    cal = calibrate(graph.to_bytes([y]), inputs, constants)
    quantizer = Quantizer(graph, cal.ranges)
    qgraph, (qy,) = quantizer.run([y])
    tflite = qgraph.to_bytes([qy], description="lutnas-tflite-int8")
    assert tflite == module_to_int8_tflite(module, input_shape, batch_statistics=False)
    return Quantized(module, tflite, graph, qgraph, quantizer.map, inputs)


@functools.cache
def layer(key: str) -> Quantized:
    spec = LayerSpec.from_key(key)
    torch.manual_seed(0)
    return quantized(build_layer(spec), spec.input_shape)


@pytest.mark.parametrize("key", VARIANTS)
def test_layer_is_faithful_and_one_xnnpack_partition(key):
    q = layer(key)
    assert_one_xnnpack_partition(q.tflite)
    references = [_torch(q.module, x) for x in q.inputs]
    assert relative_error(q.tflite, q.inputs, references) < FEW_PERCENT
    # TFLite's own int8 kernels compute the same (the file is not an XNNPACK-only artefact)
    assert relative_error(q.tflite, q.inputs, references, delegate=False) < FEW_PERCENT
    worst = max(e for _, e in op_errors(q.graph, q.mapping, q.qgraph, q.tflite, q.inputs[1]))
    assert worst < FEW_PERCENT


def _tensors(tflite: bytes) -> tuple[object, list[object], list[tuple[str, int, list[int]]]]:
    """(subgraph, tensors, [(op name, version, inputs)]) of a file, read back with the schema."""
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    sub = model.subgraphs[0]
    ops = []
    for op in sub.operators:
        code = model.operatorCodes[op.opcodeIndex]
        ops.append((names[max(code.builtinCode, code.deprecatedBuiltinCode)], code.version, op))
    return sub, sub.tensors, ops


def test_the_file_follows_tflites_int8_scheme():
    key = "mbconv_k5_e3_se0.25_poolskip_silu_i8_o16_s2_in11x11"
    torch.manual_seed(0)
    spec = LayerSpec.from_key(key)
    sub, tensors, ops = _tensors(quantized(build_layer(spec), spec.input_shape).tflite)
    int8, int32 = schema.TensorType.INT8, schema.TensorType.INT32
    assert tensors[sub.inputs[0]].type == int8 and tensors[sub.outputs[0]].type == int8
    seen = set()
    for name, version, op in ops:
        seen.add(name)
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x, w, b = (tensors[i] for i in op.inputs)
            axis = 0 if name == "CONV_2D" else 3
            assert (w.type, b.type, version) == (int8, int32, 3)
            assert w.quantization.quantizedDimension == axis
            assert len(w.quantization.scale) == w.shape[axis]  # one scale per output channel
            assert not np.any(w.quantization.zeroPoint)  # symmetric
            assert not np.any(b.quantization.zeroPoint)
            np.testing.assert_allclose(
                b.quantization.scale, x.quantization.scale[0] * w.quantization.scale, rtol=1e-6
            )
        if name == "LOGISTIC":
            out = tensors[op.outputs[0]].quantization
            assert (out.scale[0], out.zeroPoint[0]) == (pytest.approx(1 / 256), -128)
        for i in list(op.inputs) + list(op.outputs):
            assert tensors[i].type in (int8, int32)  # nothing float is left
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "LOGISTIC", "MUL", "MEAN", "ADD"} <= seen
    assert "AVERAGE_POOL_2D" not in seen  # written as a depthwise conv (XNNPACK: float only)


def test_fully_connected_weights_are_per_tensor():
    torch.manual_seed(0)
    spec = LayerSpec.from_key("fc_k1_e1_se0_noskip_relu_i16_o10_s1_in1x1")
    _, tensors, ops = _tensors(quantized(build_layer(spec), spec.input_shape).tflite)
    ((name, version, op),) = ops
    w = tensors[op.inputs[1]]
    assert (name, version, len(w.quantization.scale)) == ("FULLY_CONNECTED", 4, 1)


@pytest.mark.parametrize(
    "name,resolution",
    [("mnasnet-a1", 96), ("mobilenetv3-small", 96), ("mobilenetv3-large", 64)],
)
def test_whole_network_is_one_partition_and_each_op_faithful(name, resolution):
    from lutnas.spaces.named import get_named_arch

    arch = dataclasses.replace(get_named_arch(name), resolution=resolution)
    torch.manual_seed(0)
    q = quantized(arch.build(), arch.input_shape)
    assert_one_xnnpack_partition(q.tflite)
    errors = op_errors(q.graph, q.mapping, q.qgraph, q.tflite, q.inputs[0])
    assert max(e for _, e in errors) < MAX_OP_ERROR
    outs = np.concatenate([run_int8(q.tflite, x).ravel() for x in q.inputs])
    refs = np.concatenate([_torch(q.module, x).ravel() for x in q.inputs])
    assert np.corrcoef(outs, refs)[0, 1] > 0.8


def test_a_saturating_calibration_is_refused():
    """Ranges a tenth of what the inputs reach saturate every tensor: check_int8 says so."""
    spec = LayerSpec.from_key("mbconv_k3_e6_se0_idskip_relu6_i8_o8_s1_in8x8")
    torch.manual_seed(0)
    module = with_batch_statistics(build_layer(spec).eval(), spec.input_shape)
    graph, y = module_to_graph(module, spec.input_shape)
    inputs = calibration_inputs(_nhwc(spec.input_shape))
    constants = {i for i, t in enumerate(graph.tensors) if t.data is not None}
    cal = calibrate(graph.to_bytes([y]), inputs, constants)
    narrow = {t: (lo / 10, hi / 10) for t, (lo, hi) in cal.ranges.items()}
    quantizer = Quantizer(graph, narrow)
    qgraph, (qy,) = quantizer.run([y])
    with pytest.raises(ConversionError, match="saturate or collapse"):
        check_int8(graph, quantizer.map, qgraph, qgraph.to_bytes([qy]), inputs[0])


@pytest.mark.parametrize(
    "op,naive,key",
    [
        (
            "HARD_SWISH",
            quantize_rules._own_range(1),
            "head_k1_e1_se0_noskip_hswish_i8_o24_s1_in4x5",
        ),
        (
            "AVERAGE_POOL_2D",
            quantize_rules._same_as_input(2),
            "mbconv_k3_e6_se0_poolskip_relu6_i8_o16_s1_in7x7",
        ),
    ],
)
def test_the_int8_op_xnnpack_takes_in_float_only_would_split_the_graph(monkeypatch, op, naive, key):
    """XNNPACK's HARD_SWISH and AVERAGE_POOL_2D take float tensors only: written as int8 ops of
    their own (the naive rule) the graph splits, and the writer refuses it; hence the ADD/MUL and
    depthwise forms."""
    monkeypatch.setitem(quantize_rules.RULES, op, naive)
    spec = LayerSpec.from_key(key)
    torch.manual_seed(0)
    with pytest.raises(ConversionError, match="partitions"):
        module_to_int8_tflite(build_layer(spec), spec.input_shape)


def test_an_op_without_a_rule_is_named(monkeypatch):
    monkeypatch.delitem(quantize_rules.RULES, "MEAN")
    spec = LayerSpec.from_key("head_k1_e1_se0_noskip_relu6_i8_o32_s1_in7x7")
    with pytest.raises(ConversionError, match="no rule for MEAN"):
        module_to_int8_tflite(build_layer(spec), spec.input_shape)


def test_writing_leaves_the_module_alone():
    spec = LayerSpec.from_key("conv_k3_e1_se0_noskip_relu6_i8_o16_s1_in9x9")
    torch.manual_seed(0)
    module = build_layer(spec).eval()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    module_to_int8_tflite(module, spec.input_shape)
    after = module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not module.training


def test_int8_input_takes_int8_data():
    q = layer("stem_k3_e1_se0_noskip_relu_i3_o8_s2_in16x16")
    interpreter = Interpreter(model_content=q.tflite, num_threads=1)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    scale, zero_point = inp["quantization"]
    assert scale > 0 and -128 <= zero_point <= 127


@pytest.mark.parametrize(
    "module, shapes, says",
    [
        (
            Eltwise("add"),
            ((1, 8, 4, 4), (1, 8, 4, 4)),
            "one-input units only, and this one takes 2",
        ),
        (ChannelSplit((4, 4)), (1, 8, 4, 4), "one-output units only, and this one gives 2"),
    ],
)
def test_int8_refuses_units_of_several_inputs_or_outputs(module, shapes, says):
    """The graph units main added (add, concat, split) write fp32 files; the int8 writer handles
    one input and one output, so it names the unit's count and the precisions that work."""
    with pytest.raises(ConversionError, match=says):
        module_to_int8_tflite(module, shapes)
