"""ONNX files written straight from lutnas's torch modules, as the TorchScript exporter writes
them, in a fraction of its time.

Opset 17, batch 1, fp32, NCHW, eval mode. For every module type the built-in spaces' layers and
whole models use, the graph is the one ``torch.onnx.export(..., dynamo=False)`` makes: the same
op types in the same order with the same attributes and initializer shapes (BatchNorm folded
into the conv before it), so ONNX Runtime's optimizer starts from the same graph and times the
same thing (:mod:`profiler.onnxwrite.convert` lists what each type becomes,
:mod:`profiler.onnxwrite.units` the pooling and graph units). A module of another type
(torchvision's own networks, say) raises :class:`UnknownModule`;
:func:`profiler.export.onnx_path` then makes the file with the TorchScript exporter
(:mod:`profiler.onnxwrite.torchscript`), as it always did.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from profiler.onnxwrite.convert import module_to_graph
from profiler.onnxwrite.graph import UnknownModule

__all__ = ["PRODUCER", "UnknownModule", "module_to_graph", "onnx_bytes"]

PRODUCER = "lutnas-onnx"


def onnx_bytes(module: nn.Module, input_shape: Sequence, opset: int) -> bytes:
    """The ONNX file of ``module`` (eval mode) for batch-1 input(s) of torch shape
    ``input_shape`` (the tuple of every input's shape for a module taking several), at
    ``opset``. One input is named ``input``, several ``input0``, ``input1``, ...; one output
    ``output``, several (a split) ``output0``, ``output1``, ....

    Raises:
        UnknownModule: a module type or setting the writer does not reproduce (named).
    """
    graph, outputs = module_to_graph(module, input_shape)
    return graph.to_model(outputs, opset, PRODUCER).SerializeToString()
