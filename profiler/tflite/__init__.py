"""``.tflite`` files written straight from lutnas's torch modules (no converter toolchain).

fp32, batch 1, NHWC, BatchNorm folded, and only builtin ops the XNNPACK delegate takes
(:data:`DELEGATED_OPS`), so a phone's ``benchmark_model --use_xnnpack=true`` and the host's
LiteRT interpreter run each file as one delegated partition. See :mod:`profiler.tflite.convert`
for how each module type is written and :mod:`profiler.tflite.graph` for the file itself.
"""

from profiler.tflite.convert import ConversionError, module_to_tflite
from profiler.tflite.graph import DELEGATED_OPS, op_names

__all__ = ["DELEGATED_OPS", "ConversionError", "module_to_tflite", "op_names"]
