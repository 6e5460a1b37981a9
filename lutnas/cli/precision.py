"""``--precision`` and ``--delegate``: what profile-device times, besides backend and threads
(see :mod:`profiler.precision`)."""

from __future__ import annotations

import argparse

from lutnas.errors import LutnasError
from profiler.precision import DEFAULT_PRECISION, DELEGATES, PRECISIONS, refuse_precision


def add_precision_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=DEFAULT_PRECISION,
        help="fp32; int8 (fully quantized .tflite files); fp16 (XNNPACK's fp16 mode): "
        "--backend litert or adb with benchmark_model (default: %(default)s)",
    )
    p.add_argument(
        "--delegate",
        choices=DELEGATES,
        help="who runs the .tflite graph: xnnpack (the default), none (TFLite's own kernels), "
        "and on a phone gpu or nnapi (benchmark_model's --use_gpu/--use_nnapi)",
    )


def precision_options(args: argparse.Namespace, backend_cls: type) -> dict:
    """The backend options ``--precision``/``--delegate`` give ``backend_cls`` (checked).

    Raises:
        LutnasError: a precision or delegate the backend cannot time, in one line.
    """
    name = backend_cls.name
    refuse_precision(name, args.precision, backend_cls.precisions)
    options: dict = {}
    if args.precision != DEFAULT_PRECISION:
        options["precision"] = args.precision
    if args.delegate is not None:
        if not backend_cls.delegates:
            raise LutnasError(
                f"--delegate is for the TFLite backends (litert, adb with benchmark_model); "
                f"the {name} backend has none"
            )
        options["delegate"] = args.delegate
    return options
