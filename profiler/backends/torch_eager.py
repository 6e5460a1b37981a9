"""The second host backend: torch eager mode.

The module runs under ``torch.inference_mode`` with ``torch.set_num_threads(threads)`` (restored
on exit). Units: ms per forward call, wall clock.
"""

from __future__ import annotations

import torch

from profiler.backends.host_base import HostBackend
from profiler.base import BackendError, Measurement, Workload
from profiler.timing import time_callable


class TorchBackend(HostBackend):
    name = "torch"

    def __init__(self, threads: int = 1, pin: bool = True) -> None:
        super().__init__(threads, pin)
        self._threads_before: int | None = None

    def __enter__(self) -> TorchBackend:
        super().__enter__()
        self._threads_before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._threads_before is not None:
            torch.set_num_threads(self._threads_before)
        super().__exit__(*exc_info)

    def config(self) -> dict:
        return {
            **self._host_config(),
            "torch": torch.__version__.split("+")[0],
            "mode": "eager",
            "dtype": "float32",
        }

    def measure(self, workload: Workload, warmup: int, runs: int) -> Measurement:
        try:
            module = workload.build()
            module.eval()
            x = torch.randn(workload.input_shape)
            with torch.inference_mode():
                return time_callable(lambda: module(x), warmup, runs)
        except Exception as exc:
            raise BackendError(f"torch could not run {workload.key}: {exc}") from exc
