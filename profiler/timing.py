"""Wall-clock timing of callables on the host: warm-up, then timed runs."""

from __future__ import annotations

import time
from collections.abc import Callable

from lut.measurement import Measurement


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


BLOCK = 5  # runs per turn when interleaving: 1 to re-warm the caches, then 4 timed


def time_interleaved(
    fn: Callable[[], object],
    reference: Callable[[], object],
    warmup: int,
    runs: int,
    block: int = BLOCK,
) -> tuple[Measurement, Measurement]:
    """Take turns between ``fn`` and ``reference`` until each has ``runs`` timed runs.

    After ``warmup`` untimed runs of each, every turn runs one callable ``block`` times: the
    first run untimed (it brings the callable's weights and buffers back into the caches the
    other one used), the rest timed. So each timed run follows a run of itself, as in
    back-to-back timing, while the two share the machine's state within a fraction of a second;
    the ratio of their medians cancels the slow wander of a shared CPU (see
    :mod:`profiler.reference`). Alternating single runs instead would time each one with the
    other's data in the caches, a bias that grows with the workload's size. Returns the raw
    statistics of both.
    """
    m, r = time_in_turns([fn, reference], warmup, runs, block)
    return m, r


def time_in_turns(
    fns: list[Callable[[], object]], warmup: int, runs: int, block: int = BLOCK
) -> list[Measurement]:
    """:func:`time_interleaved` for any number of callables, in the order given: the raw
    statistics of each."""
    _check(warmup, runs)
    if block < 2:
        raise ValueError(f"block must be at least 2 (one re-warm run + timed runs), got {block}")
    for fn in fns:
        for _ in range(warmup):
            fn()
    samples_ms: list[list[float]] = [[] for _ in fns]
    while len(samples_ms[0]) < runs:
        timed = min(block - 1, runs - len(samples_ms[0]))
        for fn, out in zip(fns, samples_ms, strict=True):
            fn()
            out.extend(_timed_ms(fn) for _ in range(timed))
    return [Measurement.from_samples(samples, warmup) for samples in samples_ms]
