"""How torch's padding and BatchNorm map onto TFLite: the numeric rules of the writer.

Units: pixels. Torch pads ``p`` on both sides of each spatial axis; TFLite's SAME pads
``total // 2`` before and the rest after (``total`` what the last window needs), so the two read
the same windows only when ``total // 2 == p`` — always at stride 1, at stride 2 only on inputs
of odd size (for an odd kernel). :func:`plan_padding` decides; the converter uses SAME where it
equals torch, VALID where there is no padding and an explicit PAD + VALID otherwise. An
average pool over explicitly padded zeros counts them; :func:`valid_counts` gives the taps torch
counts with ``count_include_pad=False``. BatchNorm folding and size arguments are read as the
ONNX writer reads them (:mod:`profiler.torch_rules`).
"""

from __future__ import annotations

import numpy as np
from torch import nn

from lutnas.errors import LutnasError
from profiler.torch_rules import pair

Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right)), pixels


class ConversionError(LutnasError):
    """A module (named by type and path) cannot be written as delegated TFLite ops."""


def plan_padding(
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pad: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> tuple[bool, Pads, tuple[int, int]]:
    """How torch's symmetric padding ``pad`` maps onto TFLite, per spatial dimension.

    Returns ``(same_ok, pads, out_hw)``: ``same_ok`` when TFLite SAME reads exactly torch's
    windows (same output size, same padding before); ``pads`` the padding torch's windows
    actually read (before, after), for an explicit PAD + VALID; ``out_hw`` torch's output size.
    """
    same_ok, pads, out_hw = True, [], []
    for size, k, s, p, d in zip(in_hw, kernel, stride, pad, dilation, strict=True):
        span = d * (k - 1) + 1
        out = (size + 2 * p - span) // s + 1
        if out < 1:
            raise ConversionError(f"kernel {k} (dilation {d}) does not fit input {size} + 2×{p}")
        out_same = -(-size // s)
        total_same = max(0, (out_same - 1) * s + span - size)
        same_ok = same_ok and out_same == out and total_same // 2 == p
        pads.append((p, max(0, (out - 1) * s + span - p - size)))
        out_hw.append(out)
    return same_ok, (pads[0], pads[1]), (out_hw[0], out_hw[1])


def conv_padding(
    conv: nn.Conv2d, kernel: tuple[int, int], dilation: tuple[int, int], path: str
) -> tuple[int, int]:
    """A Conv2d's symmetric padding in pixels (``'valid'`` → 0, ``'same'`` → span // 2)."""
    if conv.padding == "valid":
        return (0, 0)
    if conv.padding == "same":
        spans = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        if any(s % 2 for s in spans):
            raise ConversionError(f"{path}: padding='same' with an even kernel is asymmetric")
        return (spans[0] // 2, spans[1] // 2)
    return pair(conv.padding)


def valid_counts(size: int, out: int, kernel: int, stride: int, pad: int) -> np.ndarray:
    """For each output position along one axis, how many window taps fall inside the input."""
    start = np.arange(out) * stride - pad
    return np.minimum(start + kernel, size) - np.maximum(start, 0)
