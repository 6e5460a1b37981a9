"""What the two host backends share: pinning, device facts, config fields, and timing.

A host backend only says how to turn a workload into a callable that runs it once
(:meth:`HostBackend._runner`); timing, interleaving with a reference and error reporting are
done here, once.
"""

from __future__ import annotations

import contextlib
import os
from abc import abstractmethod
from collections.abc import Callable

import numpy as np

from lut.measurement import Measurement
from profiler.base import Backend, BackendError, Workload
from profiler.host import host_info, pin_to_cores, restore_affinity
from profiler.timing import time_callable, time_interleaved


class HostBackend(Backend):
    """A backend timing on this machine's CPU with ``threads`` threads, pinned to as many
    cores while entered (where the OS allows); the affinity is restored on exit."""

    interleaves_reference = True

    def __init__(self, threads: int = 1, pin: bool = True) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.threads = threads
        self.pin = pin
        self._affinity_before: set[int] | None = None
        self._pinned: set[int] | None = None  # the cores timing runs on, while entered
        self._references: dict[str, Callable[[], object]] = {}  # key -> ready runner
        self._inputs: dict[tuple, list[np.ndarray]] = {}  # see _fixed_inputs

    def __enter__(self) -> HostBackend:
        if self.pin:
            self._affinity_before = pin_to_cores(self.threads)
            if self._affinity_before is not None:
                self._pinned = os.sched_getaffinity(0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        restore_affinity(self._affinity_before)
        self._affinity_before = self._pinned = None
        self._references.clear()

    def device_info(self) -> dict:
        return host_info()

    precision = "fp32"  # what it times (a backend of several precisions sets its own)

    def prepare_cores(self) -> set[int]:
        """The cores this process could use before pinning, less the pinned ones; none when
        timing is not pinned (it could then run on any core)."""
        if self._affinity_before is None or self._pinned is None:
            return set()
        return set(self._affinity_before) - self._pinned

    def _host_config(self) -> dict:
        info = host_info()
        return {
            "backend": self.name,
            "threads": self.threads,
            "device": f"host:{info['cpu_model']}",
            "machine": info["machine"],
            "precision": self.precision,
        }

    INPUT_SETS = 64  # input sets kept at once (a table at one resolution has a few dozen)

    def _fixed_inputs(self, key: tuple, draw: Callable[[], list[np.ndarray]]) -> list[np.ndarray]:
        """The inputs ``draw()`` makes (random, from a fixed seed), drawn once per ``key``
        (their shapes and types): workloads of the same inputs get the very values each drew
        for itself before, without drawing them again (0.4 M normal floats, a 32 × 112 × 112
        input, took about 2 ms a layer). Latency does not depend on the values; the arrays are
        only read."""
        inputs = self._inputs.get(key)
        if inputs is None:
            if len(self._inputs) >= self.INPUT_SETS:
                self._inputs.clear()
            inputs = self._inputs[key] = draw()
        return inputs

    @abstractmethod
    def _runner(self, workload: Workload) -> Callable[[], object]:
        """Prepare ``workload`` (build, export, load) and return a call that runs it once."""

    def _timing_context(self) -> contextlib.AbstractContextManager:
        """Entered around the timed calls (e.g. torch's inference mode)."""
        return contextlib.nullcontext()

    def prepared(self, workload: Workload) -> Callable[[], object]:
        """A call that runs ``workload`` once, everything before the first run done (export,
        load): for timing several configurations in turns (benchmarks/int8_vs_fp32.py).

        Raises:
            BackendError: preparing failed; the message names the workload.
        """
        return self._prepared(workload)

    def _prepared(self, workload: Workload) -> Callable[[], object]:
        try:
            return self._runner(workload)
        except Exception as exc:
            raise BackendError(f"{self.name} could not prepare {workload.key}: {exc}") from exc

    def measure(self, workload: Workload, warmup: int, runs: int) -> Measurement:
        run = self._prepared(workload)
        try:
            with self._timing_context():
                return time_callable(run, warmup, runs)
        except Exception as exc:
            raise BackendError(f"{self.name} could not run {workload.key}: {exc}") from exc

    def measure_against(
        self, workload: Workload, reference: Workload, warmup: int, runs: int
    ) -> tuple[Measurement, Measurement]:
        if reference.key not in self._references:  # prepared once per session
            self._references[reference.key] = self._prepared(reference)
        run = self._prepared(workload)
        try:
            with self._timing_context():
                return time_interleaved(run, self._references[reference.key], warmup, runs)
        except Exception as exc:
            raise BackendError(f"{self.name} could not run {workload.key}: {exc}") from exc
