"""Precision and delegate: what a LUT times, besides backend and threads.

- **precision** ``fp32`` (default) | ``fp16`` | ``int8``: fp32 runs the fp32 ``.tflite`` file;
  fp16 runs the same file in XNNPACK's fp16 mode (``--xnnpack_force_fp16=true``; the GPU
  delegate with ``--gpu_precision_loss_allowed=true``); int8 runs the fully quantized file of
  :mod:`profiler.tflite.int8`. Only the TFLite backends (``litert`` on the host, ``adb`` with
  ``benchmark_model``) time anything but fp32.
- **delegate** ``xnnpack`` (default) | ``gpu`` | ``nnapi`` | ``none``: who runs the graph.
  The host's LiteRT has XNNPACK and TFLite's own kernels (``none``); a phone's
  ``benchmark_model`` also has the GPU and NNAPI delegates.

Both are part of a backend's configuration (:meth:`profiler.base.Backend.config`), so a LUT of
one precision or delegate is never resumed or merged with another. Files written before
precisions existed hold fp32 (:func:`precision_of`).
"""

from __future__ import annotations

from lutnas.errors import LutnasError

PRECISIONS = ("fp32", "fp16", "int8")
DELEGATES = ("xnnpack", "gpu", "nnapi", "none")
DEFAULT_PRECISION = "fp32"
DEFAULT_DELEGATE = "xnnpack"


def precision_of(config: dict) -> str:
    """The precision a backend config (a LUT's, a predictor's) was measured in."""
    return str(config.get("precision") or DEFAULT_PRECISION)


def delegate_of(config: dict) -> str | None:
    """The delegate of a backend config; None for runtimes without delegates (ONNX Runtime,
    torch)."""
    return config.get("delegate")


def identity_label(config: dict) -> str:
    """``int8, gpu delegate`` / ``fp32`` (no delegate): how precision and delegate are named
    in messages."""
    delegate = delegate_of(config)
    label = precision_of(config)
    return f"{label}, {delegate} delegate" if delegate else label


def check_choice(what: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` when it is one of ``choices``.

    Raises:
        LutnasError: naming the choices.
    """
    if value not in choices:
        raise LutnasError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
    return value


def refuse_precision(backend: str, precision: str, supported: tuple[str, ...]) -> None:
    """Raise when ``backend`` cannot time ``precision``.

    Raises:
        LutnasError: one line saying which backends can.
    """
    check_choice("precision", precision, PRECISIONS)
    if precision not in supported:
        raise LutnasError(
            f"the {backend} backend times {' and '.join(supported)} only, not {precision}: "
            f"profile {precision} with --backend litert (LiteRT on this host) or --backend adb "
            "with TFLite's benchmark_model (a phone)"
        )


def file_precision(precision: str) -> str:
    """The precision of the ``.tflite`` file that times ``precision`` (fp16 runs the fp32
    file)."""
    return "int8" if precision == "int8" else "fp32"
