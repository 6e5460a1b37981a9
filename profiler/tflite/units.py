"""The pooling and graph units of :mod:`lut.unit_modules`, and whole :class:`lut.network.GraphNet`
networks, written as delegated TFLite ops (used by :mod:`profiler.tflite.convert`).

- ``nn.MaxPool2d`` → MAX_POOL_2D. SAME where TFLite's windows equal torch's (TFLite leaves SAME
  padding out of the max, as torch's -inf padding does), VALID without padding, else an explicit
  PAD + VALID. XNNPACK takes neither PADV2 (a -inf pad value) nor MIRROR_PAD, so the explicit
  pad is zeros: equal to torch wherever the input is non-negative, as in every max pool of the
  networks lutnas decomposes (each follows a ReLU); the time is the same either way.
- ``Eltwise`` → ADD / MUL of two tensors, a relu / relu6 after it fused into the op.
- ``Concat`` → CONCATENATION along channels (NHWC axis 3); XNNPACK takes at most 5 inputs per
  op, so more are joined in steps.
- ``ChannelSplit`` → SPLIT for 2-4 equal parts (what XNNPACK takes), else one STRIDED_SLICE per
  part (XNNPACK takes no SPLIT_V).
- ``ChannelShuffle`` → RESHAPE [1, H, W, g, C/g] → TRANSPOSE (…, 4, 3) → RESHAPE [1, H, W, C].
- ``GraphNet`` → each layer written on the tensors its sources hold; a tensor read by more than
  one layer is pinned, so nothing rewrites the op producing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from torch import nn

from lut.network import NETWORK_INPUT, GraphNet
from lut.unit_modules import ChannelShuffle, ChannelSplit, Concat, Eltwise
from profiler.tflite.rules import ConversionError, plan_padding
from profiler.torch_rules import pair, pooled_hw

if TYPE_CHECKING:
    from profiler.tflite.convert import _Converter

MAX_CONCAT_INPUTS = 5  # XNNPACK's concatenate nodes take 2 to 5 inputs
MAX_SPLIT_OUTPUTS = 4  # XNNPACK's even split takes 2 to 4 outputs


def pool_options(padding: int, kernel: tuple[int, int], stride: tuple[int, int]) -> object:
    """The options of a MAX_POOL_2D or AVERAGE_POOL_2D (``padding``: a ``schema.Padding``)."""
    return schema.Pool2DOptionsT(
        padding=padding,
        strideH=stride[0],
        strideW=stride[1],
        filterHeight=kernel[0],
        filterWidth=kernel[1],
        fusedActivationFunction=schema.ActivationFunctionType.NONE,
    )


class UnitWriter:
    """Writes the unit module types (:data:`profiler.torch_rules.UNIT_METHODS`) into the
    converter's graph."""

    def __init__(self, converter: _Converter) -> None:
        self.cv = converter
        self.g = converter.g

    def maxpool(self, pool: nn.MaxPool2d, x: int, path: str) -> int:
        n, h, w, c = self.cv._nhwc(x, path)
        if pair(pool.dilation) != (1, 1) or pool.return_indices:
            raise ConversionError(f"{path}: MaxPool2d with dilation or return_indices")
        kernel = pair(pool.kernel_size)
        stride = pair(pool.stride or pool.kernel_size)
        pad = pair(pool.padding)
        out = pooled_hw((h, w), kernel, stride, pad, pool.ceil_mode)
        same_ok, pads, floor_out = plan_padding((h, w), kernel, stride, pad)
        if out != floor_out:  # ceil_mode reads past the end: pad after what the windows read
            same_ok = same_ok and all(
                -(-size // s) == o for size, s, o in zip((h, w), stride, out, strict=True)
            )
            pads = tuple(
                (p, max(0, (o - 1) * s + k - p - size))
                for size, k, s, p, o in zip((h, w), kernel, stride, pad, out, strict=True)
            )
        kind, y = self.cv._padding(x, pads, same_ok)
        options = pool_options(kind, kernel, stride)
        return self.g.add_op("MAX_POOL_2D", [y], (n, *out, c), options, out_name=path)

    def eltwise(self, m: Eltwise, xs: list[int], path: str) -> int:
        a, b = self._inputs(xs, 2, path)
        if self.g.shape(a) != self.g.shape(b):
            raise ConversionError(
                f"{path}: {m.kind} of shapes {self.g.shape(a)}, {self.g.shape(b)}"
            )
        y = self.cv._binary(m.kind.upper(), a, b)
        if m.act is None:
            return y
        return self.cv.convert(m.act, y, f"{path}.act")

    def concat(self, m: Concat, xs: list[int], path: str) -> int:
        xs = list(xs) if isinstance(xs, list) else [xs]
        shapes = [self.g.shape(x) for x in xs]
        axis = len(shapes[0]) - 1  # channels: last in NHWC and in (1, C)
        if any(s[:axis] != shapes[0][:axis] for s in shapes):
            raise ConversionError(f"{path}: concat of shapes {shapes} along channels")
        while len(xs) > 1:
            head, xs = xs[:MAX_CONCAT_INPUTS], xs[MAX_CONCAT_INPUTS:]
            width = sum(self.g.shape(x)[axis] for x in head)
            options = schema.ConcatenationOptionsT(
                axis=axis, fusedActivationFunction=schema.ActivationFunctionType.NONE
            )
            shape = (*shapes[0][:axis], width)
            xs = [self.g.add_op("CONCATENATION", head, shape, options), *xs]
        return xs[0]

    def split(self, m: ChannelSplit, x: int, path: str) -> list[int]:
        shape = self.g.shape(x)
        axis = len(shape) - 1
        if sum(m.parts) != shape[axis]:
            raise ConversionError(f"{path}: split into {m.parts} of {shape[axis]} channels")
        outs = [(*shape[:axis], p) for p in m.parts]
        if len(set(m.parts)) == 1 and len(m.parts) <= MAX_SPLIT_OUTPUTS:
            dim = self.g.const(np.array(axis, np.int32), "split_axis", np.int32)
            options = schema.SplitOptionsT(numSplits=len(m.parts))
            return self.g.add_multi_op("SPLIT", [dim, x], outs, options, out_name=path)
        self.g.pin(x)  # every slice reads it
        tensors, start = [], 0
        for i, (part, out) in enumerate(zip(m.parts, outs, strict=True)):
            begin = [0] * axis + [start]
            end = [*shape[:axis], start + part]
            args = [x] + [
                self.g.const(v, f"{path}.{name}", np.int32)
                for name, v in (("begin", begin), ("end", end), ("strides", [1] * len(shape)))
            ]
            options = schema.StridedSliceOptionsT()
            tensors.append(
                self.g.add_op("STRIDED_SLICE", args, out, options, out_name=f"{path}.{i}")
            )
            start += part
        return tensors

    def shuffle(self, m: ChannelShuffle, x: int, path: str) -> int:
        n, h, w, c = self.cv._nhwc(x, path)
        g = m.groups
        if c != m.channels or c % g:
            raise ConversionError(f"{path}: shuffle of {c} channels in {g} groups")
        y = self._reshape(x, (n, h, w, g, c // g))
        perm = self.g.const([0, 1, 2, 4, 3], "perm", np.int32)
        y = self.g.add_op("TRANSPOSE", [y, perm], (n, h, w, c // g, g), schema.TransposeOptionsT())
        return self._reshape(y, (n, h, w, c), path)

    def graph_net(self, net: GraphNet, x: int, path: str) -> int:
        graph = net.graph
        readers = graph.readers()
        outs: dict[int, list[int]] = {NETWORK_INPUT: [x]}
        for i, (unit, spec) in enumerate(zip(net.units, graph.specs, strict=True)):
            args = [
                self._as_shape(outs[p][o], want)
                for (p, o), want in zip(graph.inputs[i], spec.input_shapes, strict=True)
            ]
            y = self.cv.convert(unit, args if len(args) > 1 else args[0], f"{path}.units.{i}")
            outs[i] = list(y) if isinstance(y, list) else [y]
            if readers[i] > 1:
                for t in outs[i]:
                    self.g.pin(t)
        p, o = graph.output
        return outs[p][o]

    # --- helpers ---------------------------------------------------------------------------
    def _inputs(self, xs: int | list[int], n: int, path: str) -> list[int]:
        xs = xs if isinstance(xs, list) else [xs]
        if len(xs) != n:
            raise ConversionError(f"{path}: takes {n} inputs, got {len(xs)}")
        return xs

    def _reshape(self, x: int, shape: tuple[int, ...], name: str = "") -> int:
        target = self.g.const(shape, "shape", np.int32)
        options = schema.ReshapeOptionsT(newShape=list(shape))
        return self.g.add_op("RESHAPE", [x, target], shape, options, out_name=name)

    def _as_shape(self, x: int, torch_shape: tuple[int, ...]) -> int:
        """``x`` reshaped where a vector meets a 1×1 map (torch shape → NHWC)."""
        want = torch_shape if len(torch_shape) == 2 else (1, *torch_shape[2:], torch_shape[1])
        return x if self.g.shape(x) == tuple(want) else self._reshape(x, tuple(want))
