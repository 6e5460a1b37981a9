"""Wall-clock timing of callables on the host: warm-up, then timed runs."""

from __future__ import annotations

import time
from collections.abc import Callable

from profiler.base import Measurement


def _check(warmup: int, runs: int) -> None:
    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")


def _timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1e6


def time_callable(fn: Callable[[], object], warmup: int, runs: int) -> Measurement:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times, each timed on its own."""
    _check(warmup, runs)
    for _ in range(warmup):
        fn()
    return Measurement.from_samples([_timed_ms(fn) for _ in range(runs)], warmup)


def time_interleaved(
    fn: Callable[[], object], reference: Callable[[], object], warmup: int, runs: int
) -> tuple[Measurement, Measurement]:
    """Alternate ``fn`` and ``reference``: ``warmup`` untimed pairs, then ``runs`` timed pairs.

    Both see the same machine state, so the ratio of their medians cancels the slow wander of
    a shared CPU (see :mod:`profiler.reference`). Returns the raw statistics of both.
    """
    _check(warmup, runs)
    for _ in range(warmup):
        fn()
        reference()
    samples_ms, reference_ms = [], []
    for _ in range(runs):
        samples_ms.append(_timed_ms(fn))
        reference_ms.append(_timed_ms(reference))
    return (
        Measurement.from_samples(samples_ms, warmup),
        Measurement.from_samples(reference_ms, warmup),
    )
