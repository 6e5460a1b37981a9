"""The host's closest stand-in for a phone: LiteRT (TFLite) with its XNNPACK delegate.

Each layer is written once to a ``.tflite`` file (batch 1, NHWC, BN folded; only ops XNNPACK
delegates, see :mod:`profiler.tflite`) and timed with ``num_threads`` = ``threads`` on a fixed
random input. These are the kernels ``benchmark_model --use_xnnpack=true`` runs on an arm64
phone, compiled for this CPU. Precisions (:mod:`profiler.precision`):

- fp32: the fp32 file in ``ai_edge_litert``'s Interpreter with the built-in op resolver, which
  applies the XNNPACK delegate to the whole graph (``delegate="none"``: TFLite's own kernels);
- int8: the fully quantized file (:mod:`profiler.tflite.int8`), the same way, int8 input;
- fp16: the fp32 file in XNNPACK's fp16 mode, through LiteRT's CompiledModel (the Interpreter
  takes no XNNPACK flags; :mod:`profiler.backends.litert_fp16`); refused, with the reason, on a
  CPU XNNPACK cannot run fp16 on.

Units: ms per ``invoke`` (or compiled-model run) call, wall clock, host side.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from lutnas.errors import LutnasError
from profiler.backends.host_base import HostBackend
from profiler.base import Workload
from profiler.export import default_cache_dir, tflite_export_settings, tflite_path
from profiler.precision import (
    DEFAULT_DELEGATE,
    DEFAULT_PRECISION,
    PRECISIONS,
    check_choice,
    file_precision,
)

HOST_DELEGATES = ("xnnpack", "none")
_RESOLVERS = {
    "xnnpack": (OpResolverType.BUILTIN, "builtin"),
    "none": (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, "builtin_without_default_delegates"),
}


def litert_version() -> str:
    try:
        return metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:  # a source build: no distribution metadata
        return "unknown"


class LiteRtBackend(HostBackend):
    name = "litert"
    any_module = False  # lutnas's .tflite writer (profiler.tflite) covers lut.modules only
    precisions = PRECISIONS
    delegates = HOST_DELEGATES

    def __init__(
        self,
        threads: int = 1,
        pin: bool = True,
        cache_dir: str | Path | None = None,
        precision: str = DEFAULT_PRECISION,
        delegate: str = DEFAULT_DELEGATE,
    ) -> None:
        super().__init__(threads, pin)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.precision = check_choice("precision", precision, PRECISIONS)
        if delegate not in HOST_DELEGATES:
            choices = " or ".join(HOST_DELEGATES)
            raise LutnasError(
                f"the litert backend runs on this host's CPU: --delegate {choices}, not "
                f"{delegate!r}; the {delegate} delegate is timed on a phone with --backend adb "
                "and TFLite's benchmark_model"
            )
        self.delegate = delegate
        if precision == "fp16":
            if delegate != "xnnpack":
                raise LutnasError(
                    "fp16 is XNNPACK's fp16 mode on the host: --precision fp16 needs --delegate "
                    "xnnpack (TFLite's own kernels have no fp16 mode)"
                )
            from profiler.backends.litert_fp16 import fp16_problem

            problem = fp16_problem()
            if problem:
                raise LutnasError(f"--precision fp16 cannot be timed on this host: {problem}")

    @classmethod
    def from_config(cls, config: dict) -> LiteRtBackend:
        return cls(
            threads=int(config.get("threads", 1)),
            precision=config.get("precision", DEFAULT_PRECISION),
            delegate=config.get("delegate", DEFAULT_DELEGATE),
        )

    def config(self) -> dict:
        runtime = {"op_resolver": _RESOLVERS[self.delegate][1]}
        if self.precision == "fp16":
            runtime = {"runtime": "compiled_model", "xnnpack_flags": "qs8|qu8|force_fp16"}
        return {
            **self._host_config(),
            "litert": litert_version(),
            "delegate": self.delegate,
            **runtime,
            **tflite_export_settings(file_precision(self.precision)),
        }

    def exporter(self) -> Callable[[Workload], Path]:
        return partial(
            tflite_path,
            cache_dir=self.cache_dir or default_cache_dir("tflite"),
            precision=file_precision(self.precision),
        )

    def _runner(self, workload: Workload) -> Callable[[], object]:
        path = self.exporter()(workload)
        if self.precision == "fp16":
            from profiler.backends.litert_fp16 import CompiledRunner

            return CompiledRunner(path, self.threads, fp16=True)
        interpreter = Interpreter(
            model_path=str(path),
            num_threads=self.threads,
            experimental_op_resolver_type=_RESOLVERS[self.delegate][0],
        )
        interpreter.allocate_tensors()
        details = interpreter.get_input_details()  # one per workload input, in order
        kinds = tuple((tuple(d["shape"]), d["dtype"] == np.int8) for d in details)

        def draw() -> list[np.ndarray]:
            rng = np.random.default_rng(0)
            return [
                rng.integers(-128, 128, size=shape, dtype=np.int8)
                if int8
                else rng.standard_normal(shape).astype(np.float32)
                for shape, int8 in kinds
            ]

        for detail, x in zip(details, self._fixed_inputs(("litert", kinds), draw), strict=True):
            interpreter.set_tensor(detail["index"], x)
        return interpreter.invoke
