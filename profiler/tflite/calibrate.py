"""The calibration pass of the int8 writer: the range every tensor of an fp32 graph takes.

The fp32 ``.tflite`` file is run in ``ai_edge_litert``'s Interpreter with TFLite's own kernels
(no delegate: XNNPACK fuses ops and would hide their intermediate tensors) and every tensor kept
(``experimental_preserve_all_tensors``), on ``samples`` random inputs drawn from a standard
normal with a fixed seed. A tensor's range is its minimum and maximum over all of them. Tensor
indices are the :class:`profiler.tflite.graph.Graph`'s: :meth:`Graph.to_bytes` writes tensors in
their order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

CALIBRATION_SAMPLES = 8  # random inputs per graph; recorded in the export settings
CALIBRATION_SEED = 0


@dataclass(frozen=True)
class Calibration:
    """Per-tensor ranges of one graph, the inputs that produced them and the fp32 file's
    outputs on those inputs (for the faithfulness check)."""

    ranges: dict[int, tuple[float, float]]
    inputs: list[np.ndarray]  # NHWC (or [1, C]) float32, as the graph takes them
    outputs: list[np.ndarray]  # the fp32 graph's output per input


def calibration_inputs(
    shape: tuple[int, ...], samples: int = CALIBRATION_SAMPLES, seed: int = CALIBRATION_SEED
) -> list[np.ndarray]:
    """``samples`` standard-normal float32 arrays of the graph input ``shape`` (NHWC)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(samples)]


def calibrate(tflite_fp32: bytes, inputs: list[np.ndarray], constants: set[int]) -> Calibration:
    """Run ``tflite_fp32`` on ``inputs`` and return each non-constant tensor's (min, max).

    ``constants`` are the tensor indices holding weights, biases and shape operands (not
    calibrated: their own values give their ranges).
    """
    interpreter = Interpreter(
        model_content=tflite_fp32,
        num_threads=1,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=True,
    )
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    count = len(interpreter.get_tensor_details())
    lows = np.full(count, np.inf)
    highs = np.full(count, -np.inf)
    outputs = []
    for x in inputs:
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        for t in range(count):
            if t in constants:
                continue
            value = interpreter.get_tensor(t)
            if value.size and value.dtype == np.float32:
                lows[t] = min(lows[t], float(value.min()))
                highs[t] = max(highs[t], float(value.max()))
        outputs.append(interpreter.get_tensor(out["index"]).copy())
    ranges = {t: (lows[t], highs[t]) for t in range(count) if np.isfinite(lows[t])}
    return Calibration(ranges=ranges, inputs=list(inputs), outputs=outputs)
