"""Torch modules → a TFLite graph: fp32, batch 1, NHWC, BN folded, only ops XNNPACK delegates.

The module tree is walked by module type (the types :func:`lut.modules.build_layer` and
:meth:`lutnas.spaces.arch.Arch.build` use, plus Identity/Dropout; the pooling and graph units and
whole decomposed networks are written by :mod:`profiler.tflite.units`); any other type raises
:class:`ConversionError` naming it and where it sits. Grouped convs are CONV_2D with filters of
input channels / groups, depthwise ones DEPTHWISE_CONV_2D. Eval-mode semantics: BatchNorm uses its
running statistics (folded into the preceding conv's weights and bias), dropout is the identity.

Layout: a ``(1, C, H, W)`` torch tensor is a ``[1, H, W, C]`` TFLite tensor, a ``(1, C)`` one
stays ``[1, C]``. CONV_2D weights are OHWI, DEPTHWISE_CONV_2D weights ``[1, kh, kw, C·m]``.

Padding (rules in :mod:`profiler.tflite.rules`): SAME only where TFLite's windows equal torch's
(not at stride 2 on even inputs), VALID without padding, else an explicit PAD (zeros) + VALID.
An average pool with ``count_include_pad=False`` that needs the explicit PAD is followed by a MUL
by a constant per-position map (window size / valid count) so it divides as torch does; with
SAME, TFLite itself leaves the padding out of the count.

Activations: relu / relu6 fuse into the producing conv, FC, ADD or MUL when nothing else reads
its output (else RELU / RELU6); hswish → HARD_SWISH; silu → LOGISTIC + MUL; sigmoid →
LOGISTIC; hard-sigmoid relu6(x + 3) / 6 → +3 folded into the producing conv's bias with a fused
RELU6 (else ADD + fused RELU6), then MUL by 1/6.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from ai_edge_litert import schema_py_generated as schema
from torch import nn

from lut.activations import NAME_OF_MODULE
from lut.modules import Residual, SqueezeExcite
from profiler.tflite.graph import Graph
from profiler.tflite.rules import (
    ConversionError,
    Pads,
    conv_padding,
    plan_padding,
    valid_counts,
)
from profiler.tflite.units import UnitWriter, pool_options
from profiler.torch_rules import conv_then_bn, float64, fold_bn, pair, sequence_steps, unit_handlers

_NONE = schema.ActivationFunctionType.NONE
_RELU6 = schema.ActivationFunctionType.RELU6
_BIASED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")  # bias is input 2


def module_to_tflite(module: nn.Module, input_shape: Sequence) -> bytes:
    """The ``.tflite`` bytes of ``module`` for a batch-1 fp32 input of torch shape
    ``input_shape`` (``(1, C, H, W)`` or ``(1, C)``); the graph's input is NHWC ``[1, H, W, C]``
    (or ``[1, C]``) and its output NHWC (``[1, C]`` after a global pool, flatten or linear).
    A module taking several tensors (an add, a concat) gets the tuple of their shapes, one
    graph input each, in order; one returning several (a split) gives one graph output each.

    Raises:
        ConversionError: a module type or setting has no delegated TFLite form (named).
    """
    graph, y = module_to_graph(module, input_shape)
    return graph.to_bytes(y if isinstance(y, list) else [y], description="lutnas-tflite")


def module_to_graph(module: nn.Module, input_shape: Sequence) -> tuple[Graph, int | list[int]]:
    """The fp32 :class:`Graph` of ``module`` and its output tensor, or the list of them for a
    module returning several (see :func:`module_to_tflite`); the int8 writer
    (:mod:`profiler.tflite.int8`) starts from it.

    Raises:
        ConversionError: a module type or setting has no delegated TFLite form (named).
    """
    several = bool(input_shape) and isinstance(input_shape[0], (tuple, list))
    shapes = [tuple(int(d) for d in s) for s in (input_shape if several else [input_shape])]
    graph = Graph()
    xs = []
    for i, shape in enumerate(shapes):
        if len(shape) not in (2, 4) or shape[0] != 1:
            raise ConversionError(f"input shape {shape} must be (1, C, H, W) or (1, C)")
        nhwc = shape if len(shape) == 2 else (1, shape[2], shape[3], shape[1])
        xs.append(graph.add_input(nhwc, "input" if not several else f"input{i}"))
    with torch.no_grad():
        y = _Converter(graph).convert(module, xs if several else xs[0], "")
    return graph, y


class _Converter:
    """Writes modules into ``graph``; ``convert`` returns the tensor holding a module's output."""

    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self._handlers: dict[type, Callable[[nn.Module, int, str], int]] = {
            nn.Sequential: self._sequential,
            nn.Conv2d: lambda m, x, p: self._conv(m, None, x, p),
            nn.BatchNorm2d: self._batchnorm,
            **{cls: self._activation_handler(name) for cls, name in NAME_OF_MODULE.items()},
            SqueezeExcite: self._squeeze_excite,
            Residual: self._residual,
            nn.AvgPool2d: self._avgpool,
            nn.AdaptiveAvgPool2d: lambda m, x, p: self._global_pool(m, x, p, keepdims=True),
            nn.Flatten: self._flatten,
            nn.Linear: self._linear,
            nn.Identity: lambda m, x, p: x,
            nn.Dropout: lambda m, x, p: x,
            **unit_handlers(UnitWriter(self)),
        }

    def convert(self, module: nn.Module, x: int, path: str) -> int:
        handler = self._handlers.get(type(module))
        if handler is None:
            names = sorted(t.__name__ for t in self._handlers)
            raise ConversionError(
                f"cannot write module {path or '<root>'} of type {type(module).__name__} to "
                f"TFLite; supported module types: {', '.join(names)}"
            )
        return handler(module, x, path)

    # --- containers ------------------------------------------------------------------------
    def _sequential(self, seq: nn.Sequential, x: int, path: str) -> int:
        for sub, m, nxt in sequence_steps(seq, path, _fuses):
            if nxt is None:
                x = self.convert(m, x, sub)
            elif type(m) is nn.Conv2d:
                x = self._conv(m, nxt, x, sub)
            else:  # a global pool, then flatten: one MEAN without keepdims
                x = self._global_pool(m, x, sub, keepdims=False)
        return x

    def _residual(self, res: Residual, x: int, path: str) -> int:
        self.g.pin(x)  # both branches read x
        main = self.convert(res.main, x, f"{path}.main")
        short = x if res.shortcut is None else self.convert(res.shortcut, x, f"{path}.shortcut")
        if self.g.shape(main) != self.g.shape(short):
            raise ConversionError(
                f"{path}: residual branches differ in shape "
                f"({self.g.shape(main)} vs {self.g.shape(short)})"
            )
        y = self._binary("ADD", main, short)
        return y if res.post is None else self.convert(res.post, y, f"{path}.post")

    def _squeeze_excite(self, se: SqueezeExcite, x: int, path: str) -> int:
        self.g.pin(x)  # pooled, then gated
        s = self._mean(x, keepdims=True)
        for name in ("reduce", "act", "expand", "gate"):
            s = self.convert(getattr(se, name), s, f"{path}.{name}")
        return self._binary("MUL", x, s)

    # --- convolutions ----------------------------------------------------------------------
    def _conv(self, conv: nn.Conv2d, bn: nn.BatchNorm2d | None, x: int, path: str) -> int:
        n, h, w, c = self._nhwc(x, path)
        groups, cout = conv.groups, conv.out_channels
        if conv.in_channels != c or conv.padding_mode != "zeros":
            raise ConversionError(
                f"{path}: Conv2d expects {conv.in_channels} channels with zero padding, "
                f"got {c} channels, padding_mode {conv.padding_mode!r}"
            )
        depthwise = groups > 1 and groups == c and cout % c == 0
        if groups != 1 and not depthwise and (c % groups or cout % groups):
            raise ConversionError(f"{path}: groups={groups} must divide {c} and {cout} channels")
        if bn is not None and bn.num_features != cout:
            raise ConversionError(f"{path}: BatchNorm2d width {bn.num_features} != {cout}")
        kernel, stride = pair(conv.kernel_size), pair(conv.stride)
        dilation = pair(conv.dilation)
        same_ok, pads, (oh, ow) = plan_padding(
            (h, w), kernel, stride, conv_padding(conv, kernel, dilation, path), dilation
        )
        weight = float64(conv.weight)
        bias = float64(conv.bias) if conv.bias is not None else np.zeros(cout)
        if bn is not None:
            weight, bias = fold_bn(weight, bias, bn)
        kind, x = self._padding(x, pads, same_ok)
        common = dict(
            padding=kind,
            strideH=stride[0],
            strideW=stride[1],
            dilationHFactor=dilation[0],
            dilationWFactor=dilation[1],
            fusedActivationFunction=_NONE,
        )
        if not depthwise:  # a grouped CONV_2D reads input channels / groups per filter
            op, options = "CONV_2D", schema.Conv2DOptionsT(**common)
            weight = weight.transpose(0, 2, 3, 1)  # OIHW → OHWI
        else:
            op = "DEPTHWISE_CONV_2D"
            options = schema.DepthwiseConv2DOptionsT(depthMultiplier=cout // c, **common)
            weight = weight.reshape(cout, *kernel).transpose(1, 2, 0)[None]  # → [1, kh, kw, O]
        wt = self.g.const(weight, f"{path}.weight")
        bt = self.g.const(bias, f"{path}.bias")
        return self.g.add_op(op, [x, wt, bt], (n, oh, ow, cout), options, out_name=path)

    def _padding(self, x: int, pads: Pads, same_ok: bool) -> tuple[int, int]:
        """``(Padding enum, input tensor)``: VALID without padding, SAME where it equals torch,
        else VALID on an explicitly PADded copy of ``x``."""
        if not any(pads[0] + pads[1]):
            return schema.Padding.VALID, x
        if same_ok:
            return schema.Padding.SAME, x
        n, h, w, c = self.g.shape(x)
        (t, b), (left, r) = pads
        paddings = self.g.const([[0, 0], [t, b], [left, r], [0, 0]], "paddings", np.int32)
        y = self.g.add_op("PAD", [x, paddings], (n, h + t + b, w + left + r, c), None)
        return schema.Padding.VALID, y

    def _batchnorm(self, bn: nn.BatchNorm2d, x: int, path: str) -> int:
        """A BatchNorm2d not after a conv: MUL by scale, ADD shift (per channel)."""
        c = self._nhwc(x, path)[3]
        if bn.num_features != c:
            raise ConversionError(f"{path}: BatchNorm2d width {bn.num_features} != {c}")
        scale, shift = fold_bn(np.ones(c), np.zeros(c), bn)
        y = self._binary("MUL", x, self.g.const(scale, f"{path}.scale"))
        return self._binary("ADD", y, self.g.const(shift, f"{path}.shift"))

    # --- pooling, reshaping, linear ---------------------------------------------------------
    def _avgpool(self, pool: nn.AvgPool2d, x: int, path: str) -> int:
        n, h, w, c = self._nhwc(x, path)
        if pool.ceil_mode or pool.divisor_override:
            raise ConversionError(f"{path}: AvgPool2d with ceil_mode/divisor_override")
        kernel = pair(pool.kernel_size)
        stride = pair(pool.stride or pool.kernel_size)
        pad = pair(pool.padding)
        same_ok, pads, (oh, ow) = plan_padding((h, w), kernel, stride, pad)
        # SAME leaves padding out of the count: right only for count_include_pad=False
        kind, y = self._padding(x, pads, same_ok and not pool.count_include_pad)
        options = pool_options(kind, kernel, stride)
        padded = y != x
        y = self.g.add_op("AVERAGE_POOL_2D", [y], (n, oh, ow, c), options, out_name=path)
        if padded and not pool.count_include_pad:  # PAD's zeros were counted: rescale
            counts = np.outer(
                valid_counts(h, oh, kernel[0], stride[0], pad[0]),
                valid_counts(w, ow, kernel[1], stride[1], pad[1]),
            )
            factor = (kernel[0] * kernel[1]) / counts
            if not np.all(factor == 1):
                mul = self.g.const(factor.reshape(1, oh, ow, 1), f"{path}.count_fix")
                y = self._binary("MUL", y, mul)
        return y

    def _global_pool(self, pool: nn.AdaptiveAvgPool2d, x: int, path: str, keepdims: bool) -> int:
        if pair(pool.output_size) != (1, 1):
            raise ConversionError(f"{path}: AdaptiveAvgPool2d to {pool.output_size}, not 1")
        self._nhwc(x, path)
        return self._mean(x, keepdims)

    def _mean(self, x: int, keepdims: bool) -> int:
        n, _, _, c = self.g.shape(x)
        axes = self.g.const([1, 2], "mean_axes", np.int32)
        shape = (n, 1, 1, c) if keepdims else (n, c)
        return self.g.add_op("MEAN", [x, axes], shape, schema.ReducerOptionsT(keepDims=keepdims))

    def _flatten(self, flat: nn.Flatten, x: int, path: str) -> int:
        shape = self.g.shape(x)
        if not _flattens(flat) or (len(shape) == 4 and shape[1:3] != (1, 1)):
            raise ConversionError(
                f"{path}: Flatten(start_dim={flat.start_dim}, end_dim={flat.end_dim}) of "
                f"NHWC {shape}: only a 1×1 map flattens to the same order as torch"
            )
        if len(shape) == 2:
            return x
        new = (shape[0], shape[3])
        target = self.g.const(new, "shape", np.int32)
        options = schema.ReshapeOptionsT(newShape=list(new))
        return self.g.add_op("RESHAPE", [x, target], new, options, out_name=path)

    def _linear(self, fc: nn.Linear, x: int, path: str) -> int:
        shape = self.g.shape(x)
        if int(np.prod(shape)) != fc.in_features or shape[-1] != fc.in_features:
            raise ConversionError(f"{path}: Linear takes {fc.in_features} features, got {shape}")
        bias = fc.bias.detach().numpy() if fc.bias is not None else np.zeros(fc.out_features)
        wt = self.g.const(fc.weight.detach().numpy(), f"{path}.weight")  # [out, in]
        bt = self.g.const(bias, f"{path}.bias")
        options = schema.FullyConnectedOptionsT(fusedActivationFunction=_NONE, keepNumDims=False)
        return self.g.add_op(
            "FULLY_CONNECTED", [x, wt, bt], (1, fc.out_features), options, out_name=path
        )

    # --- element-wise ----------------------------------------------------------------------
    def _activation_handler(self, kind: str) -> Callable[[nn.Module, int, str], int]:
        """The handler of the module class of activation or gate ``kind``."""
        return lambda m, x, p: self._activation(kind, x)

    def _activation(self, kind: str, x: int) -> int:
        """Write activation or gate ``kind`` (a name of :mod:`lut.activations`) applied to x."""
        g, shape = self.g, self.g.shape(x)
        if kind in ("relu", "relu6"):
            return x if g.fuse_activation(x, kind) else g.add_op(kind.upper(), [x], shape)
        if kind == "hswish":
            return g.add_op("HARD_SWISH", [x], shape)
        if kind == "sigmoid":
            return g.add_op("LOGISTIC", [x], shape)
        if kind == "silu":
            return self._binary("MUL", x, g.add_op("LOGISTIC", [x], shape))
        if kind != "hsigmoid":
            raise ConversionError(f"activation {kind!r} has no TFLite form here")
        # hsigmoid: relu6(x + 3) / 6
        producer = g.producer(x)
        bias = None
        if producer is not None and producer.name in _BIASED:
            if producer.options.fusedActivationFunction == _NONE:
                bias = g.const_value(producer.inputs[2])
        if bias is not None:
            bias += 3.0
            producer.options.fusedActivationFunction = _RELU6
            y = x
        else:
            y = self._binary("ADD", x, g.const([3.0], "three"), _RELU6)
        return self._binary("MUL", y, g.const([1.0 / 6.0], "one_sixth"))

    def _binary(self, op: str, a: int, b: int, act: int = _NONE) -> int:
        sa, sb = self.g.shape(a), self.g.shape(b)
        shape = np.broadcast_shapes(sa, sb)
        options = (schema.AddOptionsT if op == "ADD" else schema.MulOptionsT)(
            fusedActivationFunction=act
        )
        return self.g.add_op(op, [a, b], tuple(shape), options)

    def _nhwc(self, x: int, path: str) -> tuple[int, int, int, int]:
        shape = self.g.shape(x)
        if len(shape) != 4:
            raise ConversionError(f"{path}: needs a (1, C, H, W) input, got NHWC shape {shape}")
        return shape  # type: ignore[return-value]


def _flattens(flat: nn.Flatten) -> bool:
    return flat.start_dim == 1 and flat.end_dim == -1


def _fuses(m: nn.Module, nxt: nn.Module) -> bool:
    """Written as one: a conv and its BatchNorm, a global pool and the flatten after it."""
    gpool = type(m) is nn.AdaptiveAvgPool2d and type(nxt) is nn.Flatten and _flattens(nxt)
    return conv_then_bn(m, nxt) or gpool
