"""How lutnas's two file writers read torch modules alike (:mod:`profiler.tflite` for
``.tflite``, :mod:`profiler.onnxwrite` for ONNX): size arguments, eval-mode BatchNorm folded into
the conv before it (float64; the writers store float32), pool output sizes, the walk of a
Sequential and the table of the unit module types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from lut.network import GraphNet
from lut.spec_rules import pooled_size
from lut.unit_modules import ChannelShuffle, ChannelSplit, Concat, Eltwise
from lutnas.errors import LutnasError


def pair(v: int | Sequence[int]) -> tuple[int, int]:
    """A torch size argument (``3`` or ``(3, 5)``) as (height, width)."""
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def float64(tensor: torch.Tensor) -> np.ndarray:
    """A tensor's values as a float64 array (numpy's cast: torch's ``.double()`` took ~0.3 ms a
    call, most of the time of writing a layer)."""
    return tensor.detach().numpy().astype(np.float64)


def fold_bn(
    weight: np.ndarray, bias: np.ndarray, bn: nn.BatchNorm2d
) -> tuple[np.ndarray, np.ndarray]:
    """Conv ``weight`` [O, …] and ``bias`` [O] with eval-mode ``bn`` folded in (float64).

    Raises:
        LutnasError: ``bn`` keeps no running statistics (it normalises by the batch's own).
    """
    if bn.running_mean is None or bn.running_var is None:
        raise LutnasError("a BatchNorm2d without running statistics cannot be folded")
    mean, var = float64(bn.running_mean), float64(bn.running_var)
    gamma = float64(bn.weight) if bn.weight is not None else 1.0
    beta = float64(bn.bias) if bn.bias is not None else 0.0
    scale = gamma / np.sqrt(var + bn.eps)
    return weight * scale.reshape(-1, *[1] * (weight.ndim - 1)), (bias - mean) * scale + beta


def pooled_hw(
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pad: tuple[int, int],
    ceil: bool,
) -> tuple[int, int]:
    """A pool's output (height, width) as torch computes it (:func:`lut.spec_rules.pooled_size`
    per axis)."""
    h, w = (
        pooled_size(size, k, s, p, ceil)
        for size, k, s, p in zip(in_hw, kernel, stride, pad, strict=True)
    )
    return h, w


def sequence_steps(
    seq: nn.Sequential, path: str, fuses: Callable[[nn.Module, nn.Module], bool]
) -> Iterator[tuple[str, nn.Module, nn.Module | None]]:
    """A Sequential's children in order as ``(path, module, next)``, ``next`` the child after
    ``module`` when ``fuses(module, that child)`` (the writer writes the two as one, e.g. a conv
    with its BatchNorm folded in, and the pair is one step), else None."""
    children = list(seq.named_children())
    i = 0
    while i < len(children):
        name, m = children[i]
        nxt = children[i + 1][1] if i + 1 < len(children) else None
        paired = nxt is not None and fuses(m, nxt)
        yield (f"{path}.{name}" if path else name), m, nxt if paired else None
        i += 2 if paired else 1


def conv_then_bn(m: nn.Module, nxt: nn.Module) -> bool:
    """A Conv2d followed by a BatchNorm2d: folded into one conv by both writers."""
    return type(m) is nn.Conv2d and type(nxt) is nn.BatchNorm2d


# The pooling and graph units of lut.unit_modules (and whole networks), by the name of the method
# each writer's UnitWriter writes them with.
UNIT_METHODS: dict[type, str] = {
    nn.MaxPool2d: "maxpool",
    Eltwise: "eltwise",
    Concat: "concat",
    ChannelSplit: "split",
    ChannelShuffle: "shuffle",
    GraphNet: "graph_net",
}


def unit_handlers(writer: object) -> dict[type, Callable]:
    """``writer``'s methods for the unit module types (:data:`UNIT_METHODS`)."""
    return {cls: getattr(writer, name) for cls, name in UNIT_METHODS.items()}
