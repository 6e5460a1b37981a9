"""Wall-clock timing of a callable on the host: warm-up, then timed runs."""

from __future__ import annotations

import time
from collections.abc import Callable

from profiler.base import Measurement


def time_callable(fn: Callable[[], object], warmup: int, runs: int) -> Measurement:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times, each timed on its own."""
    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    for _ in range(warmup):
        fn()
    samples_ms = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples_ms.append((time.perf_counter_ns() - start) / 1e6)
    return Measurement.from_samples(samples_ms, warmup)
