"""How lutnas's two file writers read torch modules alike: size arguments, and eval-mode
BatchNorm folded into the conv before it (:mod:`profiler.tflite` for ``.tflite``,
:mod:`profiler.onnxwrite` for ONNX). Numbers in float64; the writers store float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from lut.spec_rules import pooled_size
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
