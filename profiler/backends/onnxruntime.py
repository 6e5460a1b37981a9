"""The default host backend: ONNX Runtime's CPU execution provider.

Each layer is written to ONNX once (batch 1, fp32; by lutnas's writer, or for a LUT begun with it
by the TorchScript exporter: :mod:`profiler.export`), loaded into a
session with intra- and inter-op threads set to ``threads`` (1 by default), sequential execution
and ORT_ENABLE_ALL graph optimisation, and timed with ``Session.run`` on a fixed random input.
Units: ms per ``run`` call, wall clock, host side.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

from profiler.backends.host_base import HostBackend
from profiler.base import Workload
from profiler.export import (
    EXPORTER,
    default_cache_dir,
    export_settings,
    onnx_exporter_of,
    onnx_path,
    recorded_exporter,
)

if TYPE_CHECKING:
    from lut.store import LutStore


class OnnxRuntimeBackend(HostBackend):
    name = "onnxruntime"

    def __init__(
        self,
        threads: int = 1,
        pin: bool = True,
        cache_dir: str | Path | None = None,
        optimization: str = "all",
        exporter: str = EXPORTER,
    ) -> None:
        super().__init__(threads, pin)
        export_settings(exporter)  # a known ONNX exporter, or ValueError
        self.onnx_exporter = exporter
        self.cache_dir = Path(cache_dir) if cache_dir else None
        levels = {
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        }
        if optimization not in levels:
            raise ValueError(f"optimization must be one of {sorted(levels)}")
        self.optimization = optimization
        self._level = levels[optimization]

    @classmethod
    def from_config(cls, config: dict) -> OnnxRuntimeBackend:
        return cls(
            threads=int(config.get("threads", 1)),
            optimization=config.get("graph_optimization", "all"),
            exporter=onnx_exporter_of(config),
        )

    def config(self) -> dict:
        return {
            **self._host_config(),
            "onnxruntime": ort.__version__,
            "execution_provider": "CPUExecutionProvider",
            "execution_mode": "sequential",
            "graph_optimization": self.optimization,
            **export_settings(self.onnx_exporter),
        }

    def open_lut(self, path: str | Path, settings: dict, resume: bool = True) -> LutStore:
        """As :meth:`Backend.open_lut`; a resumed LUT's files are made by the exporter it records
        (one begun with the TorchScript exporter goes on with it)."""
        self.onnx_exporter = recorded_exporter(path, resume) or self.onnx_exporter
        return super().open_lut(path, settings, resume)

    def _session(self, path: Path) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = self.threads
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = self._level
        options.log_severity_level = 3
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def exporter(self) -> Callable[[Workload], Path]:
        cache_dir = self.cache_dir or default_cache_dir("onnx")
        return partial(onnx_path, cache_dir=cache_dir, exporter=self.onnx_exporter)

    def _runner(self, workload: Workload) -> Callable[[], object]:
        session = self._session(self.exporter()(workload))
        shapes = tuple(tuple(shape) for shape in workload.input_shapes)

        def draw() -> list[np.ndarray]:
            rng = np.random.default_rng(0)
            return [rng.standard_normal(shape, np.float32) for shape in shapes]

        values = self._fixed_inputs(("float32", shapes), draw)
        feed = {inp.name: x for inp, x in zip(session.get_inputs(), values, strict=True)}
        return lambda: session.run(None, feed)
