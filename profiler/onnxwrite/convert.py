"""Torch modules → the ONNX graph ``torch.onnx.export(dynamo=False)`` makes of them, eval mode.

The module tree is walked by exact module type (the types :func:`lut.modules.build_layer` and
:meth:`lutnas.spaces.arch.Arch.build` use, plus Identity/Dropout; the pooling and graph units
and whole decomposed networks are written by :mod:`profiler.onnxwrite.units`). A module of any
other type, or a setting this writer does not reproduce, raises :class:`UnknownModule`, and the
file is made by the TorchScript exporter instead (:func:`profiler.export.onnx_path`).

What each type becomes is what the TorchScript exporter writes at opset 17 in eval mode, op for
op, so ONNX Runtime's optimizer starts from the same graph and times the same thing:

- Conv2d → Conv (dilations, group, kernel_shape, pads, strides); a BatchNorm2d right after it in
  a Sequential is folded into its weight and bias (the exporter's eval-mode peephole does the
  same), so the Conv always has a bias then.
- ReLU → Relu; ReLU6 → Clip whose bounds 0 and 6 are scalar Constant nodes; Hardswish →
  HardSwish; SiLU → Sigmoid, Mul; Sigmoid → Sigmoid; Hardsigmoid → HardSigmoid (alpha 1/6).
- SqueezeExcite → ReduceMean over (2, 3) keeping dims, its 1×1 Convs and activations, Mul by x.
- Residual → main path, shortcut, Add(main, shortcut), then ``post``.
- AvgPool2d → AveragePool; AdaptiveAvgPool2d(1) → GlobalAveragePool; Flatten(1, -1) → Flatten;
  Linear on a (1, C) input → Gemm (transB 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from lut.activations import NAME_OF_MODULE
from lut.modules import Residual, SqueezeExcite
from profiler.onnxwrite.graph import Graph, UnknownModule, child, scope
from profiler.onnxwrite.units import UnitWriter
from profiler.torch_rules import (
    conv_then_bn,
    fold_bn,
    pair,
    pooled_hw,
    sequence_steps,
    unit_handlers,
)

Handler = Callable[[nn.Module, str, str], str]


def module_to_graph(module: nn.Module, input_shape: Sequence) -> tuple[Graph, list[str]]:
    """The ONNX graph of ``module`` for batch-1 fp32 input of torch shape ``input_shape``, and
    its output tensors. A module taking several tensors (an add, a concat) gets the tuple of
    their shapes, one graph input each (``input0``, ``input1``, ...); one input is ``input``.

    Raises:
        UnknownModule: a module type or setting the writer does not reproduce (named).
    """
    several = bool(input_shape) and isinstance(input_shape[0], (tuple, list))
    shapes = [tuple(int(d) for d in s) for s in (input_shape if several else [input_shape])]
    graph = Graph()
    names = ["input"] if len(shapes) == 1 else [f"input{i}" for i in range(len(shapes))]
    xs = [graph.add_input(name, shape) for name, shape in zip(names, shapes, strict=True)]
    with torch.no_grad():
        y = Writer(graph).write(module, xs if several else xs[0], "")
    return graph, y if isinstance(y, list) else [y]


class Writer:
    """Writes modules into ``graph``; :meth:`write` returns the tensor of a module's output."""

    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self._handlers: dict[type, Handler] = {
            nn.Sequential: self._sequential,
            nn.Conv2d: lambda m, x, p: self.conv(m, None, x, p),
            **{cls: self._activation_handler(name) for cls, name in NAME_OF_MODULE.items()},
            SqueezeExcite: self._squeeze_excite,
            Residual: self._residual,
            nn.AvgPool2d: self._avgpool,
            nn.AdaptiveAvgPool2d: self._global_pool,
            nn.Flatten: self._flatten,
            nn.Linear: self._linear,
            nn.Identity: lambda m, x, p: x,
            nn.Dropout: lambda m, x, p: x,
            **unit_handlers(UnitWriter(self)),
        }

    def write(self, module: nn.Module, x, path: str):
        handler = self._handlers.get(type(module))
        if handler is None:
            raise UnknownModule(
                f"module {path or '<root>'} of type {type(module).__name__} is not written directly"
            )
        return handler(module, x, path)

    # --- containers ------------------------------------------------------------------------
    def _sequential(self, seq: nn.Sequential, x: str, path: str) -> str:
        for sub, m, bn in sequence_steps(seq, path, conv_then_bn):
            x = self.write(m, x, sub) if bn is None else self.conv(m, bn, x, sub)
        return x

    def _residual(self, res: Residual, x: str, path: str) -> str:
        main = self.write(res.main, x, child(path, "main"))
        short = x if res.shortcut is None else self.write(res.shortcut, x, child(path, "shortcut"))
        if self.g.shape(main) != self.g.shape(short):
            raise UnknownModule(f"{path}: residual branches differ in shape")
        y = self.binary("Add", main, short, path)
        return y if res.post is None else self.write(res.post, y, child(path, "post"))

    def _squeeze_excite(self, se: SqueezeExcite, x: str, path: str) -> str:
        n, c, _, _ = self.nchw(x, path)
        s = self.g.op("ReduceMean", [x], (n, c, 1, 1), scope(path), axes=[2, 3], keepdims=1)
        for name in ("reduce", "act", "expand", "gate"):
            s = self.write(getattr(se, name), s, child(path, name))
        return self.binary("Mul", x, s, path)

    # --- convolution -----------------------------------------------------------------------
    def conv(self, conv: nn.Conv2d, bn: nn.BatchNorm2d | None, x: str, path: str) -> str:
        n, c, h, w = self.nchw(x, path)
        if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
            raise UnknownModule(f"{path}: Conv2d padding {conv.padding!r}/{conv.padding_mode}")
        if conv.in_channels != c or (bn is not None and bn.num_features != conv.out_channels):
            raise UnknownModule(f"{path}: Conv2d/BatchNorm2d widths do not match the input")
        kernel, stride = pair(conv.kernel_size), pair(conv.stride)
        pad, dilation = pair(conv.padding), pair(conv.dilation)
        out_hw = [
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, k, s, p, d in zip((h, w), kernel, stride, pad, dilation, strict=True)
        ]
        weight = conv.weight.detach().numpy()  # fp32; folding makes float64
        bias = None if conv.bias is None else conv.bias.detach().numpy()
        if bn is not None:
            if bn.running_mean is None or bn.running_var is None:
                raise UnknownModule(f"{path}: BatchNorm2d without running statistics")
            weight, bias = fold_bn(weight, np.zeros(len(weight)) if bias is None else bias, bn)
        keep = self.g.param if bn is None else self.g.made  # folded: a weight the exporter makes
        inputs = [x, keep(weight, child(path, "weight"))]
        if bias is not None:
            inputs.append(keep(bias, child(path, "bias")))
        return self.g.op(
            "Conv",
            inputs,
            (n, conv.out_channels, *out_hw),
            scope(path),
            dilations=list(dilation),
            group=conv.groups,
            kernel_shape=list(kernel),
            pads=[*pad, *pad],
            strides=list(stride),
        )

    # --- pooling, reshaping, linear ---------------------------------------------------------
    def _avgpool(self, pool: nn.AvgPool2d, x: str, path: str) -> str:
        if pool.divisor_override:
            raise UnknownModule(f"{path}: AvgPool2d with divisor_override")
        count_pad = int(pool.count_include_pad)
        return self.pool("AveragePool", pool, x, path, count_include_pad=count_pad)

    def pool(self, op_type: str, pool: nn.Module, x: str, path: str, **attrs) -> str:
        """An AveragePool or MaxPool node of a torch pool (its window, stride, symmetric
        padding and ceil_mode), with further ``attrs``."""
        n, c, h, w = self.nchw(x, path)
        kernel = pair(pool.kernel_size)
        stride = pair(pool.stride or pool.kernel_size)
        pad = pair(pool.padding)
        out = pooled_hw((h, w), kernel, stride, pad, pool.ceil_mode)
        return self.g.op(
            op_type,
            [x],
            (n, c, *out),
            scope(path),
            ceil_mode=int(pool.ceil_mode),
            kernel_shape=list(kernel),
            pads=[*pad, *pad],
            strides=list(stride),
            **attrs,
        )

    def _global_pool(self, pool: nn.AdaptiveAvgPool2d, x: str, path: str) -> str:
        n, c, _, _ = self.nchw(x, path)
        if pair(pool.output_size) != (1, 1):
            raise UnknownModule(f"{path}: AdaptiveAvgPool2d to {pool.output_size}, not 1")
        return self.g.op("GlobalAveragePool", [x], (n, c, 1, 1), scope(path))

    def _flatten(self, flat: nn.Flatten, x: str, path: str) -> str:
        shape = self.g.shape(x)
        if flat.start_dim != 1 or flat.end_dim != -1 or len(shape) < 2:
            raise UnknownModule(f"{path}: Flatten({flat.start_dim}, {flat.end_dim}) of {shape}")
        return self.g.op("Flatten", [x], (shape[0], int(np.prod(shape[1:]))), scope(path), axis=1)

    def _linear(self, fc: nn.Linear, x: str, path: str) -> str:
        shape = self.g.shape(x)
        if len(shape) != 2 or shape[1] != fc.in_features or fc.bias is None:
            raise UnknownModule(f"{path}: Linear of input {shape} (bias {fc.bias is not None})")
        weight = self.g.param(fc.weight.detach().numpy(), child(path, "weight"))
        bias = self.g.param(fc.bias.detach().numpy(), child(path, "bias"))
        return self.g.op(
            "Gemm",
            [x, weight, bias],
            (shape[0], fc.out_features),
            scope(path),
            alpha=1.0,
            beta=1.0,
            transB=1,
        )

    # --- element-wise ----------------------------------------------------------------------
    def _activation_handler(self, kind: str) -> Handler:
        return lambda m, x, p: self.activation(kind, x, p)

    def activation(self, kind: str, x: str, path: str) -> str:
        """Activation or gate ``kind`` (a name of :mod:`lut.activations`) applied to x."""
        g, shape, at = self.g, self.g.shape(x), scope(path)
        if kind == "relu":
            return g.op("Relu", [x], shape, at)
        if kind == "relu6":
            low = g.constant(np.array(0.0), path, np.float32)
            high = g.constant(np.array(6.0), path, np.float32)
            return g.op("Clip", [x, low, high], shape, at)
        if kind == "hswish":
            return g.op("HardSwish", [x], shape, at)
        if kind == "sigmoid":
            return g.op("Sigmoid", [x], shape, at)
        if kind == "silu":
            return self.binary("Mul", x, g.op("Sigmoid", [x], shape, at), path)
        if kind == "hsigmoid":
            return g.op("HardSigmoid", [x], shape, at, alpha=1.0 / 6.0)
        raise UnknownModule(f"{path}: activation {kind!r}")

    def binary(self, op: str, a: str, b: str, path: str) -> str:
        shape = tuple(np.broadcast_shapes(self.g.shape(a), self.g.shape(b)))
        return self.g.op(op, [a, b], shape, scope(path))

    def nchw(self, x: str, path: str) -> tuple[int, int, int, int]:
        shape = self.g.shape(x)
        if len(shape) != 4:
            raise UnknownModule(f"{path}: needs a (1, C, H, W) input, got {shape}")
        return shape  # type: ignore[return-value]
