"""``.tflite`` files written straight from lutnas's torch modules (no converter toolchain).

Batch 1, NHWC, BatchNorm folded, and only builtin ops the XNNPACK delegate takes
(:data:`DELEGATED_OPS`), so a phone's ``benchmark_model --use_xnnpack=true`` and the host's
LiteRT interpreter run each file as one delegated partition. fp32 files: see
:mod:`profiler.tflite.convert` for how each module type is written and
:mod:`profiler.tflite.graph` for the file itself. int8 files (TFLite's full-integer scheme,
calibrated on random inputs): :mod:`profiler.tflite.int8`. fp16 is not a file of its own: it is
the fp32 file run in XNNPACK's fp16 mode (``--xnnpack_force_fp16``).
"""

from profiler.tflite.convert import ConversionError, module_to_tflite
from profiler.tflite.graph import DELEGATED_OPS, op_names

__all__ = ["DELEGATED_OPS", "ConversionError", "module_to_tflite", "op_names", "tflite_bytes"]

FILE_PRECISIONS = ("fp32", "fp16", "int8")


def tflite_bytes(module, input_shape, precision: str = "fp32") -> bytes:
    """The ``.tflite`` file that times ``module`` at ``precision``: the int8 file for int8, the
    fp32 file for fp32 and fp16 (fp16 is a run-time mode of XNNPACK on the fp32 file).

    Raises:
        ConversionError: the module cannot be written (named), or ``precision`` is unknown.
    """
    if precision == "int8":
        from profiler.tflite.int8 import module_to_int8_tflite

        return module_to_int8_tflite(module, input_shape)
    if precision not in FILE_PRECISIONS:
        raise ConversionError(
            f"unknown precision {precision!r}; one of {', '.join(FILE_PRECISIONS)}"
        )
    return module_to_tflite(module, input_shape)
