"""Checks that an int8 ``.tflite`` file is a faithful, wholly delegated copy of its fp32 graph.

- :func:`delegated_partitions`: how many XNNPACK partitions LiteRT's interpreter makes of it
  (one: every op runs in XNNPACK's int8 kernels).
- :func:`op_errors`: for every op of the fp32 graph, the relative L2 error of its int8
  counterpart's output against the fp32 op run (TFLite's reference kernels) on the *same*
  dequantized int8 inputs: what quantization costs at that op, without the errors of the ops
  before it. A collapsed or saturated tensor shows as an error near 100 %.
- :func:`relative_error`: the error of the whole file's output against references (the fp32
  graph's or torch's outputs on the same inputs).

Errors compound over a network: a random-weight network with BatchNorm statistics re-estimated
on its input (``profiler.tflite.int8.with_batch_statistics``) amplifies the ~1–3 % per-op error
of int8 to tens of percent at the logits of a 50-layer network, while each op stays within a
few percent; :func:`op_errors` is the check that does not depend on depth.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from profiler.tflite.graph import Graph, Quant

_REFERENCE = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES


def delegated_partitions(tflite: bytes) -> int:
    """How many XNNPACK partitions LiteRT's interpreter (default delegates) makes of ``tflite``
    (its ``DELEGATE`` nodes); an op left to TFLite's own kernels splits the graph, and a graph
    XNNPACK takes nothing of has 0."""
    interpreter = Interpreter(model_content=tflite, num_threads=1)
    interpreter.allocate_tensors()
    return sum(node["op_name"] == "DELEGATE" for node in interpreter._get_ops_details())


def quantize_input(x: np.ndarray, quant: tuple[float, int]) -> np.ndarray:
    scale, zero_point = quant
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, quant: Quant | tuple[float, int]) -> np.ndarray:
    scale, zero_point = (quant.scale[0], quant.zero_point[0]) if isinstance(quant, Quant) else quant
    return (q.astype(np.float32) - zero_point) * scale


def run_int8(tflite: bytes, x: np.ndarray, delegate: bool = True) -> np.ndarray:
    """The dequantized output of the int8 file for the float input ``x`` (quantized with the
    file's input parameters)."""
    interpreter = Interpreter(
        model_content=tflite,
        num_threads=1,
        experimental_op_resolver_type=OpResolverType.AUTO if delegate else _REFERENCE,
    )
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    interpreter.set_tensor(inp["index"], quantize_input(x, inp["quantization"]))
    interpreter.invoke()
    return dequantize(interpreter.get_tensor(out["index"]), out["quantization"])


def relative_error(
    tflite: bytes, inputs: list[np.ndarray], references: list[np.ndarray], delegate: bool = True
) -> float:
    """‖int8 output − reference‖₂ / ‖reference‖₂ over all ``inputs`` together."""
    diff = ref = 0.0
    for x, r in zip(inputs, references, strict=True):
        out = run_int8(tflite, x, delegate)
        diff += float(np.sum((out - r) ** 2))
        ref += float(np.sum(r.astype(np.float64) ** 2))
    return float(np.sqrt(diff / ref)) if ref > 0 else float("inf")


def op_errors(
    src: Graph, mapping: dict[int, int], qgraph: Graph, tflite: bytes, x: np.ndarray
) -> list[tuple[str, float]]:
    """``(op, error)`` for every op of the fp32 graph ``src``: its int8 counterpart's output
    (tensor ``mapping[out]`` of ``qgraph``, the graph written to ``tflite``) against the fp32
    op on the same dequantized int8 inputs, for the float graph input ``x``."""
    interpreter = Interpreter(
        model_content=tflite,
        num_threads=1,
        experimental_op_resolver_type=_REFERENCE,
        experimental_preserve_all_tensors=True,
    )
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    interpreter.set_tensor(inp["index"], quantize_input(x, inp["quantization"]))
    interpreter.invoke()

    def value(t: int) -> np.ndarray:  # src tensor t as the int8 run had it, dequantized
        q = mapping[t]
        return dequantize(interpreter.get_tensor(q), qgraph.quant(q))

    references = _run_ops_apart(src, value)
    errors = []
    for op, ref in zip(src.ops, references, strict=True):
        got = value(op.outputs[0])
        norm = float(np.linalg.norm(ref))
        errors.append((op.name, float(np.linalg.norm(got - ref)) / norm if norm else 0.0))
    return errors


def _run_ops_apart(src: Graph, value) -> list[np.ndarray]:
    """Every op of ``src`` run on its own, in fp32 with TFLite's reference kernels, each reading
    ``value(t)`` for its activation inputs ``t``: one graph of unconnected ops, one invoke."""
    g = Graph()
    ids: dict[int, int] = {}  # src tensor -> tensor of g (one per activation or constant)
    outputs = []
    for op in src.ops:
        for t in op.inputs:
            if t not in ids:
                data = src.const_value(t)
                if data is None:
                    ids[t] = g.add_input(src.shape(t), src.name(t))
                else:
                    ids[t] = g.const(data, src.name(t), data.dtype.type)
        inputs = [ids[t] for t in op.inputs]
        outputs.append(g.add_op(op.name, inputs, src.shape(op.outputs[0]), op.options))
    interpreter = Interpreter(
        model_content=g.to_bytes(outputs), num_threads=1, experimental_op_resolver_type=_REFERENCE
    )
    interpreter.allocate_tensors()
    for t, i in ids.items():
        if src.const_value(t) is None:
            interpreter.set_tensor(i, value(t).astype(np.float32))
    interpreter.invoke()
    return [interpreter.get_tensor(o) for o in outputs]
