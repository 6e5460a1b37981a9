"""The int8 writer's rules, one per op kind: how :class:`profiler.tflite.quantize.Quantizer`
writes each fp32 op in TFLite's int8 scheme (see :mod:`profiler.tflite.quantize`).

A rule takes the quantizer and the fp32 op and writes the op's int8 form into ``q.out``
(:meth:`Quantizer.emit` for an op that stands for the fp32 one; ``q.out.add_op`` for any it
needs before that). Op versions follow TFLite's ``op_version.cc`` for int8 operands. Two ops are
written as others because XNNPACK's TFLite delegate takes them in float only: HARD_SWISH and
AVERAGE_POOL_2D.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from profiler.tflite.graph import Op, Quant
from profiler.tflite.quantize import (
    MAX_REQUANT,
    Quantizer,
    activation_quant,
    symmetric_weights,
)
from profiler.tflite.rules import ConversionError, valid_counts

_NONE = schema.ActivationFunctionType.NONE


# --- rules ------------------------------------------------------------------------------------
def _weighted(q: Quantizer, op: Op, axis: int | None, version: int) -> None:
    """CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED: int8 weights, int32 bias."""
    x, w, b = op.inputs
    x_quant = q.quant_of(x)
    weights, bias = q.src.const_value(w), q.src.const_value(b)
    if weights is None or bias is None:
        raise ConversionError(f"{op.name} with non-constant weights cannot be quantized")
    wq, w_quant = symmetric_weights(weights, axis)
    bias_scales = np.float64(x_quant.scale[0]) * np.asarray(w_quant.scale, dtype=np.float64)
    bias_scales = np.broadcast_to(bias_scales, bias.shape)
    bq = np.round(bias / bias_scales)
    if np.any(np.abs(bq) >= 2**31):
        raise ConversionError(
            f"{op.name} {q.src.name(op.outputs[0])!r}: a bias does not fit int32 at scale input "
            "× weight scale (its input's range is far narrower than its bias)"
        )
    bq = bq.astype(np.int32)
    b_quant = Quant(tuple(bias_scales.tolist()), (0,) * len(bias_scales), 0)
    if axis is None:
        b_quant = Quant.per_tensor(bias_scales[0])
    inputs = [
        q.activation(x),
        q.out.const(wq, q.src.name(w), np.int8, w_quant),
        q.out.const(bq, q.src.name(b), np.int32, b_quant),
    ]
    in_scale = x_quant.scale[0] * max(w_quant.scale)
    q.emit(op, inputs, q.range_quant(op.outputs[0], in_scale), version)


def _scale(q: Quantizer, t: int) -> float:
    """The (first) scale of int8 tensor ``t`` of the output graph."""
    return q.out.quant(t).scale[0]


def _mul_version(q: Quantizer, a: int, b: int, out_quant: Quant) -> int:
    """MUL's version: 3 for a rescale (s_a × s_b / s_out) of 1 or more, else 2."""
    return 3 if _scale(q, a) * _scale(q, b) / out_quant.scale[0] >= 1.0 else 2


def _binary(q: Quantizer, op: Op) -> None:
    """ADD, MUL: each operand with its own parameters, the output on its range."""
    a, b = (q.operand(t) for t in op.inputs)
    s_a, s_b = _scale(q, a), _scale(q, b)
    out_quant = q.range_quant(op.outputs[0], s_a * s_b if op.name == "MUL" else max(s_a, s_b))
    version = _mul_version(q, a, b, out_quant) if op.name == "MUL" else 2
    q.emit(op, [a, b], out_quant, version)


def _hard_swish(q: Quantizer, op: Op) -> None:
    """h-swish(x) = x · relu6(x + 3) / 6 as ADD (fused RELU6), MUL, MUL: XNNPACK's HARD_SWISH
    takes float tensors only (``VisitHardSwishNode`` in its TFLite delegate), its ADD and MUL
    take int8. The intermediate ranges follow from x's."""
    (x,) = op.inputs
    low, high = q.ranges[x]
    shape, name = q.src.shape(x), q.src.name(op.outputs[0])
    gate_low, gate_high = (min(max(v + 3.0, 0.0), 6.0) for v in (low, high))
    three = q.constant([3.0], f"{name}.three")
    relu6 = q.out.add_op(
        "ADD",
        [q.activation(x), three],
        shape,
        schema.AddOptionsT(fusedActivationFunction=schema.ActivationFunctionType.RELU6),
        out_name=f"{name}.relu6",
        out_quant=activation_quant(
            gate_low, gate_high, max(_scale(q, q.activation(x)), _scale(q, three)) / MAX_REQUANT
        ),
        version=2,
    )
    sixth = q.constant([1.0 / 6.0], f"{name}.one_sixth")
    gate_quant = activation_quant(
        gate_low / 6.0, gate_high / 6.0, _scale(q, relu6) * _scale(q, sixth) / MAX_REQUANT
    )
    gate = q.out.add_op(
        "MUL",
        [relu6, sixth],
        shape,
        schema.MulOptionsT(fusedActivationFunction=_NONE),
        out_name=f"{name}.gate",
        out_quant=gate_quant,
        version=_mul_version(q, relu6, sixth, gate_quant),
    )
    out_quant = q.range_quant(op.outputs[0], _scale(q, q.activation(x)) * _scale(q, gate))
    version = _mul_version(q, q.activation(x), gate, out_quant)
    q.emit(op, [q.activation(x), gate], out_quant, version, "MUL", schema.MulOptionsT())


def _average_pool(q: Quantizer, op: Op) -> None:
    """AVERAGE_POOL_2D as a DEPTHWISE_CONV_2D of uniform weights 1/(kh·kw): XNNPACK's average
    pooling takes float tensors only (``VisitAveragePool2DNode``). Where SAME padding leaves
    padded taps out of TFLite's count, a MUL by window size / valid taps per position follows
    (the depthwise conv counts the padding as zeros)."""
    (x,) = op.inputs
    pool = op.options
    _, height, width, channels = q.src.shape(x)
    _, out_h, out_w, _ = q.src.shape(op.outputs[0])
    kernel, stride = (pool.filterHeight, pool.filterWidth), (pool.strideH, pool.strideW)
    x_quant = q.quant_of(x)
    weights, w_quant = symmetric_weights(np.full((1, *kernel, channels), 1.0 / np.prod(kernel)), 3)
    bias_scales = tuple(x_quant.scale[0] * s for s in w_quant.scale)
    name = q.src.name(op.outputs[0])
    inputs = [
        q.activation(x),
        q.out.const(weights, f"{name}.weights", np.int8, w_quant),
        q.out.const(
            np.zeros(channels), f"{name}.bias", np.int32, Quant(bias_scales, (0,) * channels)
        ),
    ]
    options = schema.DepthwiseConv2DOptionsT(
        padding=pool.padding,
        strideH=stride[0],
        strideW=stride[1],
        depthMultiplier=1,
        dilationHFactor=1,
        dilationWFactor=1,
        fusedActivationFunction=pool.fusedActivationFunction,
    )
    factor = np.ones((out_h, out_w))
    if pool.padding == schema.Padding.SAME:
        counts = [
            valid_counts(size, out, k, s, max(0, (out - 1) * s + k - size) // 2)
            for size, out, k, s in zip((height, width), (out_h, out_w), kernel, stride, strict=True)
        ]
        factor = np.prod(kernel) / np.outer(*counts)
    if np.all(factor == 1):
        q.emit(op, inputs, x_quant, 3, "DEPTHWISE_CONV_2D", options)
        return
    summed = q.out.add_op(
        "DEPTHWISE_CONV_2D",
        inputs,
        q.src.shape(op.outputs[0]),
        options,
        out_name=f"{name}.window_sum",
        out_quant=x_quant,
        version=3,
    )
    fix = q.constant(factor.reshape(1, out_h, out_w, 1), f"{name}.count_fix")
    out_quant = q.range_quant(op.outputs[0], _scale(q, summed) * _scale(q, fix))
    version = _mul_version(q, summed, fix, out_quant)
    q.emit(op, [summed, fix], out_quant, version, "MUL", schema.MulOptionsT())


def _same_as_input(version: int) -> Callable[[Quantizer, Op], None]:
    """Ops that only move values: the output keeps the input's parameters."""

    def rule(q: Quantizer, op: Op) -> None:
        x, *rest = op.inputs
        q.emit(op, [q.activation(x), *(q.operand(t) for t in rest)], q.quant_of(x), version)

    return rule


def _own_range(version: int) -> Callable[[Quantizer, Op], None]:
    """Ops whose output gets parameters from its own calibration range."""

    def rule(q: Quantizer, op: Op) -> None:
        x, *rest = op.inputs
        inputs = [q.activation(x), *(q.operand(t) for t in rest)]
        q.emit(op, inputs, q.range_quant(op.outputs[0], q.quant_of(x).scale[0]), version)

    return rule


def _logistic(q: Quantizer, op: Op) -> None:
    q.emit(op, [q.activation(op.inputs[0])], Quant.per_tensor(1.0 / 256.0, -128), 2)


RULES: dict[str, Callable[[Quantizer, Op], None]] = {
    "CONV_2D": lambda q, op: _weighted(q, op, axis=0, version=3),
    "DEPTHWISE_CONV_2D": lambda q, op: _weighted(q, op, axis=3, version=3),
    "FULLY_CONNECTED": lambda q, op: _weighted(q, op, axis=None, version=4),
    "ADD": _binary,
    "MUL": _binary,
    "MEAN": _own_range(2),
    "HARD_SWISH": _hard_swish,
    "RELU": _own_range(2),
    "RELU6": _own_range(2),
    "LOGISTIC": _logistic,
    "AVERAGE_POOL_2D": _average_pool,
    "PAD": _same_as_input(2),
    "RESHAPE": _same_as_input(1),
}
