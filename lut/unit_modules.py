"""Torch modules of the pooling and graph units of :mod:`lut.spec`: max / average / global
pooling, element-wise add and mul over two inputs, concat, channel split and channel shuffle.

``build_unit(spec)`` returns the module of one such spec (``lut.modules.build_layer`` sends
these ops here). The multi-tensor units take and give several tensors: ``Eltwise`` and
``Concat`` take one tensor per input, ``ChannelSplit`` returns a tuple, one per part.
"""

from __future__ import annotations

import torch
from torch import nn

from lut.activations import ACT_FORMS
from lut.spec import NO_ACT, LayerSpec

UNIT_OPS = ("maxpool", "avgpool", "gpool", "add", "mul", "concat", "split", "shuffle")


class Eltwise(nn.Module):
    """``act(a + b)`` or ``act(a * b)`` over two tensors of one shape (``act`` may be absent)."""

    def __init__(self, kind: str, act: str = NO_ACT) -> None:
        super().__init__()
        if kind not in ("add", "mul"):
            raise ValueError(f"Eltwise kind must be add or mul, not {kind!r}")
        self.kind = kind
        self.act = None if act == NO_ACT else ACT_FORMS[act].module()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        y = a + b if self.kind == "add" else a * b
        return y if self.act is None else self.act(y)


class Concat(nn.Module):
    """The inputs joined along channels (dimension 1)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, 1)


class ChannelSplit(nn.Module):
    """The input cut along channels into tensors of ``parts`` channels."""

    def __init__(self, parts: tuple[int, ...]) -> None:
        super().__init__()
        self.parts = tuple(parts)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.split(x, list(self.parts), 1))


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle of a ``(1, channels, h, w)`` tensor: viewed as
    ``groups × channels / groups``, transposed, viewed back (fixed sizes, so exporters write
    constant reshapes)."""

    def __init__(self, groups: int, channels: int, hw: tuple[int, int]) -> None:
        super().__init__()
        self.groups, self.channels, self.hw = groups, channels, tuple(hw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g, c, (h, w) = self.groups, self.channels, self.hw
        y = x.view(1, g, c // g, h, w).transpose(1, 2).contiguous()
        return y.view(1, c, h, w)


def build_unit(spec: LayerSpec) -> nn.Module:
    """The module of a pooling or graph unit (``spec.op`` in :data:`UNIT_OPS`)."""
    op = spec.op
    if op == "maxpool":
        return nn.MaxPool2d(spec.kernel, spec.stride, spec.padding, ceil_mode=spec.ceil)
    if op == "avgpool":
        return nn.AvgPool2d(spec.kernel, spec.stride, spec.padding, count_include_pad=spec.countpad)
    if op == "gpool":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if op in ("add", "mul"):
        return Eltwise(op, spec.act)
    if op == "concat":
        return Concat()
    if op == "split":
        return ChannelSplit(spec.parts)
    if op == "shuffle":
        return ChannelShuffle(spec.group_count, spec.cin, (spec.input_h, spec.input_w))
    raise ValueError(f"no unit builder for op {op!r}")
