"""The TorchScript exporter (``torch.onnx.export(..., dynamo=False)``): how every ONNX file was
made before lutnas wrote its own, and still how a LUT started with it goes on
(:func:`profiler.export.onnx_path`), and how a module the direct writer does not know is
written. The tests compare the direct writer's graphs with this exporter's.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from lut.unit_modules import ChannelSplit


def write_torchscript_onnx(
    module: torch.nn.Module, shapes: Sequence[tuple[int, ...]], path: Path, opset: int
) -> None:
    """Export ``module`` (eval mode) for batch-1 inputs of ``shapes`` (one per input) to
    ``path``; inputs named ``input`` (``input0``, ... for several), outputs ``output``
    (``output0``, ... for a split)."""
    names = ["input"] if len(shapes) == 1 else [f"input{i}" for i in range(len(shapes))]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        args = tuple(torch.randn(s) for s in shapes)
        n_out = len(module.parts) if isinstance(module, ChannelSplit) else 1
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=names,
            output_names=["output"] if n_out == 1 else [f"output{i}" for i in range(n_out)],
            opset_version=opset,
            dynamo=False,
        )
