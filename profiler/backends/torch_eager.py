"""The second host backend: torch eager mode.

The module runs under ``torch.inference_mode`` with ``torch.set_num_threads(threads)`` (restored
on exit), in a process whose glibc malloc thresholds are fixed (:mod:`profiler.allocator`: torch
allocates every activation anew, and the moving thresholds made latency depend on the process's
history). Units: ms per forward call, wall clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from profiler.allocator import steady_allocator
from profiler.backends.host_base import HostBackend
from profiler.base import Workload


class TorchBackend(HostBackend):
    name = "torch"

    def __init__(self, threads: int = 1, pin: bool = True) -> None:
        super().__init__(threads, pin)
        self._threads_before: int | None = None

    def __enter__(self) -> TorchBackend:
        super().__enter__()
        steady_allocator()
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
            "allocator": steady_allocator(),
        }

    def _runner(self, workload: Workload) -> Callable[[], object]:
        module = workload.build()
        module.eval()
        xs = [torch.randn(shape) for shape in workload.input_shapes]
        return lambda: module(*xs)

    def _timing_context(self) -> contextlib.AbstractContextManager:
        return torch.inference_mode()
