"""Rows measured in batches, for a backend that times several workloads in one go (a phone:
one push and one shell for a batch, :meth:`profiler.adb.timing.PhoneTiming.measure_batch`).

The rules of :mod:`profiler.steady` hold row by row: a row is measured again while its median
is not well enough known, up to ``max_attempts`` measurements, keeping the steadiest, and a row
whose measurement fails is a failure (its earlier attempts are dropped). Only the order
changes: a row's next attempt goes into the next batch, at its head, rather than straight
after the first; a batch is filled up with rows not yet measured.

A row is handed to ``done`` as soon as it is final (steady, or out of attempts, or failed),
while the backend is still timing the rest of its batch, so a run cut off midway keeps every
row that finished. ``between`` runs after each batch (the drift reference is timed there,
never inside a batch).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from lut.measurement import Measurement
from profiler.base import Backend, BackendError, Workload
from profiler.settings import ProfileSettings
from profiler.steady import RowResult, steadier, unsteady

Done = Callable[[int, RowResult | BackendError], None]


def measure_in_batches(
    backend: Backend,
    workloads: Sequence[Workload],
    settings: ProfileSettings,
    done: Done,
    ready: Callable[[int], None] = lambda index: None,
    between: Callable[[], None] = lambda: None,
) -> None:
    """Measure every workload in batches of ``backend.batch_size``; ``done(index, row or
    error)`` hears each once. ``ready(index)`` is called before a workload's first measurement
    (its model file made ahead: :mod:`profiler.prepare`).

    Raises:
        DeviceLostError: the target went away; rows already handed to ``done`` stay handed.
    """
    queue = deque(range(len(workloads)))
    first: dict[int, Measurement] = {}
    best: dict[int, Measurement] = {}
    attempts: dict[int, int] = {}
    while queue:
        batch = [queue.popleft() for _ in range(min(backend.batch_size, len(queue)))]
        again: list[int] = []
        for index in batch:
            if index not in attempts:
                ready(index)

        def on_row(pos: int, result: Measurement | BackendError, batch=batch, again=again):
            index = batch[pos]
            if isinstance(result, BackendError):
                done(index, result)
                return
            attempts[index] = attempts.get(index, 0) + 1
            first.setdefault(index, result)
            best[index] = steadier(result, best[index], settings) if index in best else result
            if unsteady(best[index], settings) and attempts[index] < settings.max_attempts:
                again.append(index)
                return
            row = RowResult(measurement=best[index], attempts=attempts[index], first=first[index])
            done(index, row)

        backend.measure_batch([workloads[i] for i in batch], settings.warmup, settings.runs, on_row)
        queue.extendleft(reversed(again))
        between()
