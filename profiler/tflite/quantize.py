"""An fp32 :class:`Graph` rewritten op by op into TFLite's int8 scheme (full integer).

The scheme (TFLite's quantization spec, the one XNNPACK's quantized kernels and the GPU/NNAPI
delegates expect):

- activations int8, one scale and zero point per tensor, from the calibration range
  (:mod:`profiler.tflite.calibrate`) widened to hold 0: scale = (max − min) / 255;
- CONV_2D and DEPTHWISE_CONV_2D weights int8, symmetric (zero point 0, values in [−127, 127]),
  one scale per output channel (dimension 0 of OHWI, 3 of the depthwise 1HWO filter);
  FULLY_CONNECTED weights the same with one scale per tensor (the spec's granularity for FC);
- biases int32, zero point 0, scale = input scale × weight scale (per channel where the weights
  are);
- constant operands of ADD and MUL int8, one scale per tensor;
- ops that only move values (AVERAGE_POOL_2D, PAD, RESHAPE) keep their input's parameters, as
  the spec requires; LOGISTIC's output is scale 1/256, zero point −128;
- the graph's input and output are int8 too.

Each op kind has a rule in :data:`RULES` (op name → function); a new op kind of the fp32 writer
joins the int8 writer by adding its rule there. Op versions follow TFLite's ``op_version.cc``
for int8 operands.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from profiler.tflite.graph import Graph, Op, Quant
from profiler.tflite.rules import ConversionError, valid_counts

Q_MIN, Q_MAX = -128, 127
_W_MAX = 127  # symmetric weights use [-127, 127]
_SCALE_FLOOR = 1e-12  # a range this narrow (an all-zero tensor or channel) gets this width
_NONE = schema.ActivationFunctionType.NONE
_MAX_REQUANT = 255.0  # input-side scale / output scale stays below XNNPACK's limit of 256


def activation_quant(low: float, high: float, min_scale: float = 0.0) -> Quant:
    """Per-tensor parameters covering ``[low, high]`` widened to hold 0, with a scale of at
    least ``min_scale`` (XNNPACK's int8 kernels refuse an output scale below 1/256 of their
    input-side scale: a range that narrow, e.g. a ReLU that was 0 on every calibration input,
    is widened to it)."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    scale = max(max(high - low, _SCALE_FLOOR) / (Q_MAX - Q_MIN), min_scale)
    zero_point = int(np.clip(round(Q_MIN - low / scale), Q_MIN, Q_MAX))
    return Quant.per_tensor(scale, zero_point)


def quantize_values(values: np.ndarray, quant: Quant) -> np.ndarray:
    """``values`` as int8 under per-tensor ``quant``."""
    q = np.round(values / quant.scale[0]) + quant.zero_point[0]
    return np.clip(q, Q_MIN, Q_MAX).astype(np.int8)


def symmetric_weights(weights: np.ndarray, axis: int | None) -> tuple[np.ndarray, Quant]:
    """Symmetric int8 weights and their parameters: one scale per index of ``axis`` (None: one
    for the tensor)."""
    w = np.asarray(weights, dtype=np.float64)
    if axis is None:
        absmax = np.array([np.abs(w).max()])
        scales = np.maximum(absmax, _SCALE_FLOOR) / _W_MAX
        q = np.round(w / scales[0])
        quant = Quant(tuple(scales.tolist()), (0,))
    else:
        others = tuple(d for d in range(w.ndim) if d != axis)
        scales = np.maximum(np.abs(w).max(axis=others), _SCALE_FLOOR) / _W_MAX
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.round(w / scales.reshape(shape))
        quant = Quant(tuple(scales.tolist()), (0,) * len(scales), axis)
    return np.clip(q, -_W_MAX, _W_MAX).astype(np.int8), quant


class Quantizer:
    """Writes the int8 copy of ``src`` into :attr:`out`. ``ranges``: calibration range of every
    activation tensor of ``src`` (its index → (min, max))."""

    def __init__(self, src: Graph, ranges: dict[int, tuple[float, float]]) -> None:
        self.src = src
        self.ranges = ranges
        self.out = Graph()
        self.map: dict[int, int] = {}  # src tensor → out tensor

    def run(self, outputs: list[int]) -> tuple[Graph, list[int]]:
        """The int8 graph and its output tensors (``outputs`` are ``src``'s)."""
        for t in self.src.inputs:
            self.map[t] = self.out.add_input(
                self.src.shape(t), self.src.name(t), np.int8, self.range_quant(t)
            )
        for op in self.src.ops:
            rule = RULES.get(op.name)
            if rule is None:
                raise ConversionError(
                    f"the int8 writer has no rule for {op.name} (rules: {', '.join(RULES)})"
                )
            rule(self, op)
        return self.out, [self.map[t] for t in outputs]

    # --- tensors -----------------------------------------------------------------------------
    def range_quant(self, t: int, input_scale: float = 0.0) -> Quant:
        """Parameters of ``src`` activation ``t`` from its calibration range; ``input_scale``:
        the scale its op requantizes from (the output scale is kept above 1/255 of it). A
        tensor that was 0 on every calibration input (a ReLU after a conv whose outputs were all
        negative: random networks have them) gets ``input_scale`` itself (or 1/255), so the
        ops after it keep biases and rescales in range."""
        if t not in self.ranges:
            raise ConversionError(f"tensor {self.src.name(t)!r} was not calibrated")
        low, high = self.ranges[t]
        if high - low <= _SCALE_FLOOR:
            return activation_quant(low, high, min_scale=input_scale or 1.0 / (Q_MAX - Q_MIN))
        return activation_quant(low, high, min_scale=input_scale / _MAX_REQUANT)

    def activation(self, t: int) -> int:
        """The int8 tensor standing for ``src`` activation ``t`` (already written)."""
        return self.map[t]

    def quant_of(self, t: int) -> Quant:
        """The parameters of the int8 tensor standing for ``src`` tensor ``t``."""
        quant = self.out.quant(self.map[t])
        assert quant is not None
        return quant

    def operand(self, t: int) -> int:
        """An operand of an element-wise op: the int8 activation, or a constant quantized on
        its own range (float) or copied (int32 shapes and axes)."""
        value = self.src.const_value(t)
        if value is None:
            return self.activation(t)
        if t not in self.map:
            if value.dtype == np.int32:
                self.map[t] = self.out.const(value, self.src.name(t), np.int32)
            else:
                quant = activation_quant(value.min(), value.max())
                q = quantize_values(value, quant)
                self.map[t] = self.out.const(q, self.src.name(t), np.int8, quant)
        return self.map[t]

    def constant(self, value: np.ndarray | float, name: str) -> int:
        """A new float constant of the int8 graph, quantized per tensor on its own range."""
        value = np.asarray(value, dtype=np.float64)
        quant = activation_quant(value.min(), value.max())
        return self.out.const(quantize_values(value, quant), name, np.int8, quant)

    def emit(
        self,
        op: Op,
        inputs: list[int],
        out_quant: Quant,
        version: int,
        name: str | None = None,
        options: object | None = None,
    ) -> None:
        """Write ``op`` (or op ``name`` with ``options`` in its place) reading the int8
        ``inputs``; its output, which stands for ``op``'s, gets ``out_quant``."""
        (out,) = op.outputs
        self.map[out] = self.out.add_op(
            name or op.name,
            inputs,
            self.src.shape(out),
            options if name else op.options,
            out_name=self.src.name(out),
            out_quant=out_quant,
            version=version,
        )


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
            gate_low, gate_high, max(_scale(q, q.activation(x)), _scale(q, three)) / _MAX_REQUANT
        ),
        version=2,
    )
    sixth = q.constant([1.0 / 6.0], f"{name}.one_sixth")
    gate_quant = activation_quant(
        gate_low / 6.0, gate_high / 6.0, _scale(q, relu6) * _scale(q, sixth) / _MAX_REQUANT
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
