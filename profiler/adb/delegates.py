"""Precision and delegate on the phone: ``benchmark_model``'s flags for them, and the check
that the delegate took the whole graph.

Flags (the delegate providers of ``tflite/tools/delegates``):

============  ==================================================================================
xnnpack       ``--use_xnnpack=true``; fp16: ``--xnnpack_force_fp16=true``
gpu           ``--use_gpu=true --gpu_precision_loss_allowed=true|false --use_xnnpack=false``:
              precision loss allowed for fp16 and int8 (the GPU delegate computes a quantized
              graph in float, in fp16 when allowed, its default), not for fp32
nnapi         ``--use_nnapi=true --use_xnnpack=false``; fp16: ``--nnapi_allow_fp16=true``
none          ``--use_xnnpack=false`` (TFLite's own kernels; no fp16 mode)
============  ==================================================================================

``--use_xnnpack=false`` beside the GPU and NNAPI delegates keeps XNNPACK from taking what they
leave, so a split graph shows as split. A delegate that does not take the whole graph leaves the
rest on the CPU and the timing mixes both: :func:`check_delegation` refuses such a run
(:mod:`profiler.adb.delegation` reads the tool's report).
"""

from __future__ import annotations

from lutnas.errors import LutnasError
from profiler.adb.delegation import parse_delegation
from profiler.base import BackendError
from profiler.precision import DELEGATES, PRECISIONS, check_choice

NAMES = {"xnnpack": "XNNPACK", "gpu": "GPU", "nnapi": "NNAPI"}  # as the tool names them


def check_combination(precision: str, delegate: str, runner: str) -> None:
    """Raise when ``runner`` cannot time ``precision`` with ``delegate``.

    Raises:
        LutnasError: one line naming what can.
    """
    check_choice("precision", precision, PRECISIONS)
    check_choice("delegate", delegate, DELEGATES)
    if runner != "benchmark_model":
        if precision != "fp32" or delegate != "xnnpack":
            raise LutnasError(
                f"--precision and --delegate are benchmark_model's; {runner} times fp32 ONNX "
                "models on the CPU only: give --runner the phone's benchmark_model"
            )
        return
    if precision == "fp16" and delegate == "none":
        raise LutnasError(
            "--precision fp16 needs a delegate with an fp16 mode (xnnpack, gpu or nnapi); "
            "TFLite's own kernels (--delegate none) have none"
        )


def benchmark_model_flags(precision: str, delegate: str) -> list[str]:
    """The ``benchmark_model`` flags that run ``precision`` on ``delegate`` (see the table)."""
    if delegate == "xnnpack":
        return ["--use_xnnpack=true"] + (
            ["--xnnpack_force_fp16=true"] if precision == "fp16" else []
        )
    flags = ["--use_xnnpack=false"]
    if delegate == "gpu":
        loss = "false" if precision == "fp32" else "true"
        flags += ["--use_gpu=true", f"--gpu_precision_loss_allowed={loss}"]
    elif delegate == "nnapi":
        flags += ["--use_nnapi=true"] + (["--nnapi_allow_fp16=true"] if precision == "fp16" else [])
    return flags


def delegate_settings(precision: str, delegate: str) -> dict:
    """What of the delegate goes into a LUT's configuration beside its precision (it changes
    the numbers): the delegate, and the GPU's and NNAPI's precision switches."""
    settings: dict = {"delegate": delegate}
    if delegate == "gpu":
        settings["gpu_precision_loss_allowed"] = precision != "fp32"
    if delegate == "nnapi":
        settings["nnapi_allow_fp16"] = precision == "fp16"
    return settings


def check_delegation(output: str, delegate: str, where: str) -> None:
    """Refuse a run whose delegate did not take the whole graph.

    ``output``: the runner's stdout and stderr. XNNPACK: a run whose output has no summary is
    accepted (releases before 2020 print none; lutnas's files are proven to be one XNNPACK
    partition on the host). GPU and NNAPI: the summary must say ``completely``.

    Raises:
        BackendError: naming what the delegate took and refused.
    """
    if delegate == "none":
        return
    report = parse_delegation(output, NAMES[delegate])
    if report.whole or (report.status == "unknown" and delegate == "xnnpack"):
        return
    if report.status == "unknown":
        raise BackendError(
            f"{where}: {report.describe()}, so whether it took the whole graph is unknown "
            "(benchmark_model releases before 2020 do not say): not timed; use a newer "
            "benchmark_model"
        )
    raise BackendError(
        f"{where}: {report.describe()}: not timed, a split graph times the CPU and the "
        "transfers too. Leave this layer out of the LUT, or profile with another --delegate"
    )
