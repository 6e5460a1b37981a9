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

This module holds the scheme's parameters and :class:`Quantizer`, which writes the int8 graph;
each op kind has a rule in :data:`profiler.tflite.int8_rules.RULES` (op name → function): a new
op kind of the fp32 writer joins the int8 writer by adding its rule there.
"""

from __future__ import annotations

import numpy as np

from profiler.tflite.graph import Graph, Op, Quant
from profiler.tflite.rules import ConversionError

Q_MIN, Q_MAX = -128, 127
_W_MAX = 127  # symmetric weights use [-127, 127]
_SCALE_FLOOR = 1e-12  # a range this narrow (an all-zero tensor or channel) gets this width
MAX_REQUANT = 255.0  # input-side scale / output scale stays below XNNPACK's limit of 256


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
        from profiler.tflite.int8_rules import RULES  # the rules use this class

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
        return activation_quant(low, high, min_scale=input_scale / MAX_REQUANT)

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
