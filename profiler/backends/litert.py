"""The host's closest stand-in for a phone: LiteRT (TFLite) with its XNNPACK delegate.

Each layer is written once to a ``.tflite`` file (fp32, batch 1, NHWC, BN folded; only ops
XNNPACK delegates, see :mod:`profiler.tflite`), loaded into ``ai_edge_litert``'s Interpreter with
the built-in op resolver, which applies the XNNPACK delegate to the whole graph, with
``num_threads`` = ``threads``, and timed with ``invoke()`` on a fixed random input. These are the
kernels ``benchmark_model --use_xnnpack=true`` runs on an arm64 phone, compiled for this CPU.
Units: ms per ``invoke`` call, wall clock, host side.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from profiler.backends.host_base import HostBackend
from profiler.base import Workload
from profiler.export import default_cache_dir, tflite_export_settings, tflite_path


def litert_version() -> str:
    try:
        return metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:  # a source build: no distribution metadata
        return "unknown"


class LiteRtBackend(HostBackend):
    name = "litert"
    any_module = False  # lutnas's .tflite writer (profiler.tflite) covers lut.modules only

    def __init__(
        self, threads: int = 1, pin: bool = True, cache_dir: str | Path | None = None
    ) -> None:
        super().__init__(threads, pin)
        self.cache_dir = Path(cache_dir) if cache_dir else None

    def config(self) -> dict:
        return {
            **self._host_config(),
            "litert": litert_version(),
            "delegate": "xnnpack",
            "op_resolver": "builtin",
            **tflite_export_settings(),
        }

    def exporter(self) -> Callable[[Workload], Path]:
        return partial(tflite_path, cache_dir=self.cache_dir or default_cache_dir("tflite"))

    def _runner(self, workload: Workload) -> Callable[[], object]:
        interpreter = Interpreter(
            model_path=str(self.exporter()(workload)),
            num_threads=self.threads,
            experimental_op_resolver_type=OpResolverType.BUILTIN,
        )
        interpreter.allocate_tensors()
        rng = np.random.default_rng(0)
        for detail in interpreter.get_input_details():  # one per workload input, in order
            x = rng.standard_normal(detail["shape"]).astype(np.float32)
            interpreter.set_tensor(detail["index"], x)
        return interpreter.invoke
