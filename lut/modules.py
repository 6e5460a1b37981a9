"""Torch modules for one ``LayerSpec``: the single place where an op's meaning becomes code.

``build_layer(spec)`` returns a module whose forward takes tensors of ``spec.input_shapes``
(one, except for add, mul and concat). Weights are random (latency does not depend on their
values). The convolutional ops and residual blocks are built here, the pooling and graph units
(pools, element-wise, concat, split, shuffle) in :mod:`lut.unit_modules`.
"""

from __future__ import annotations

import torch
from torch import nn

from lut.activations import ACT_FORMS, GATE_FORMS
from lut.spec import NO_ACT, LayerSpec
from lut.unit_modules import UNIT_OPS, build_unit


def activation(name: str) -> nn.Module:
    """The module for activation ``name`` (one of ``lut.spec.ACTS``), in place."""
    return ACT_FORMS[name].module(inplace=True)


def conv_bn(
    cin: int,
    cout: int,
    kernel: int,
    stride: int = 1,
    groups: int = 1,
    act: str | None = None,
    padding: int | None = None,
    bn: bool = True,
) -> nn.Sequential:
    """k×k conv (padding k // 2 unless given) → BN (no conv bias), or a conv bias without BN
    when ``bn`` is False → optional activation (None or ``none``: without)."""
    pad = kernel // 2 if padding is None else padding
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, pad, groups=groups, bias=not bn),
    ]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    if act is not None and act != NO_ACT:
        layers.append(activation(act))
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Global pool → 1×1 reduce → act (ReLU) → 1×1 expand → gate, multiplied onto the input.

    ``squeeze`` overrides the width ``max(1, round(ratio × channels))``; ``inner_act`` names
    the activation between the two 1×1 convs.
    """

    def __init__(
        self,
        channels: int,
        ratio: float,
        hard_gate: bool = False,
        squeeze: int | None = None,
        inner_act: str = "relu",
    ) -> None:
        super().__init__()
        squeeze = squeeze or max(1, int(round(ratio * channels)))
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.act = activation(inner_act)
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.gate = GATE_FORMS["hsigmoid" if hard_gate else "sigmoid"].module()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.expand(self.act(self.reduce(s))))


class Residual(nn.Module):
    """post(main(x) + shortcut(x)); the shortcut is the identity when ``shortcut`` is None, and
    nothing follows the add when ``post`` is None."""

    def __init__(
        self, main: nn.Module, shortcut: nn.Module | None, post: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.main = main
        self.shortcut = shortcut
        self.post = post

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.main(x) + (x if self.shortcut is None else self.shortcut(x))
        return y if self.post is None else self.post(y)


def _se(spec: LayerSpec, channels: int) -> list[nn.Module]:
    if not spec.se_ratio:
        return []
    return [
        SqueezeExcite(
            channels,
            spec.se_ratio,
            hard_gate=spec.se_gate_kind == "hsigmoid",
            squeeze=spec.se_squeeze_channels,
            inner_act=spec.se_act,
        )
    ]


def _main_path(spec: LayerSpec) -> nn.Module:
    k, s, a = spec.kernel, spec.stride, spec.act
    if spec.op in ("stem", "conv"):
        conv = conv_bn(
            spec.cin, spec.cout, k, s, spec.group_count, a, padding=spec.padding, bn=spec.bn
        )
        return nn.Sequential(conv, *_se(spec, spec.cout))
    if spec.op == "dconv":
        return nn.Sequential(
            conv_bn(spec.cin, spec.cin, k, s, groups=spec.cin, act=a),
            *_se(spec, spec.cin),
            conv_bn(spec.cin, spec.cout, 1),
        )
    if spec.op == "mbconv":
        mid = spec.mid_channels
        expand = [conv_bn(spec.cin, mid, 1, act=a)] if mid != spec.cin else []
        return nn.Sequential(
            *expand,
            conv_bn(mid, mid, k, s, groups=mid, act=a),
            *_se(spec, mid),
            conv_bn(mid, spec.cout, 1),
        )
    if spec.op == "basic":
        return nn.Sequential(
            conv_bn(spec.cin, spec.cout, k, s, act=a), conv_bn(spec.cout, spec.cout, k)
        )
    if spec.op == "bottleneck":
        mid = spec.mid_channels
        return nn.Sequential(
            conv_bn(spec.cin, mid, 1, act=a),
            conv_bn(mid, mid, k, s, groups=spec.group_count, act=a),
            *_se(spec, mid),
            conv_bn(mid, spec.cout, 1),
        )
    if spec.op == "head":
        return nn.Sequential(
            conv_bn(spec.cin, spec.cout, 1, act=a), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
    if spec.op == "fc":
        return nn.Linear(spec.cin, spec.cout)
    if spec.op == "fcact":
        return nn.Sequential(nn.Linear(spec.cin, spec.cout), activation(a))
    raise ValueError(f"no builder for op {spec.op!r}")  # LayerSpec validation prevents this


def _shortcut(spec: LayerSpec) -> nn.Module | None:
    """The skip's shortcut branch (None: the identity)."""
    if spec.skip == "poolskip":
        pool: list[nn.Module] = [nn.AvgPool2d(3, spec.stride, 1, count_include_pad=False)]
        if spec.cin != spec.cout:
            pool.append(conv_bn(spec.cin, spec.cout, 1))
        return nn.Sequential(*pool)
    if spec.skip == "convskip":
        return conv_bn(spec.cin, spec.cout, 1, spec.stride, padding=0)
    return None


def build_layer(spec: LayerSpec) -> nn.Module:
    """The module for one layer, in eval mode, random weights."""
    if spec.op in UNIT_OPS:
        return build_unit(spec).eval()
    main = _main_path(spec)
    if spec.skip != "noskip":
        post = activation(spec.post) if spec.post else None
        module: nn.Module = Residual(main, _shortcut(spec), post)
    else:
        module = main
    return module.eval()


def example_inputs(spec: LayerSpec) -> tuple[torch.Tensor, ...]:
    """Random inputs of ``spec.input_shapes``: ``build_layer(spec)(*example_inputs(spec))``."""
    return tuple(torch.randn(shape) for shape in spec.input_shapes)


def example_input(spec: LayerSpec) -> torch.Tensor:
    return torch.randn(spec.input_shape)
