"""The loop that fills a LUT: skip what is done, shuffle, time, re-time noisy rows, watch drift.

Model files (ONNX, ``.tflite``) for the next workloads are made ahead by worker processes on
the cores the timing is not pinned to (:mod:`profiler.prepare`), so the loop only loads and
times; with no spare core they are made in turn, as each workload comes up.

On host backends each whole model is timed in turns with a reference model and rescaled to the
speed of the machine at calibration (:mod:`profiler.reference`), unless ``drift_correction`` is
off. Layers are timed back to back; a backend that times several at once (a phone,
``batch_size`` > 1) is handed them in batches (:mod:`profiler.batched`).

Every finished measurement is committed before the next starts (see :mod:`lut.store`), so a
killed run loses at most the workload in flight (in a batch: the ones not finished yet) and the
same call resumes where it stopped.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from tqdm import tqdm

from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas.errors import LutnasError
from lutnas.spaces.registry import get_space
from lutnas.spaces.stored import adopt_lut_spaces, record_in_lut
from profiler.base import Backend, BackendError, DeviceLostError, Workload
from profiler.batched import measure_in_batches
from profiler.prepare import prepare_ahead
from profiler.reference import REFERENCE_SPEC, Reference, calibrated_reference
from profiler.scale_check import check_scale
from profiler.settings import ProfileSettings
from profiler.steady import RowResult, measure_row, measure_steady
from profiler.workloads import arch_workload, layer_workload

log = logging.getLogger(__name__)

__all__ = [  # re-exported for callers of the loop: layer_workload, REFERENCE_SPEC,
    # ProfileSettings and measure_steady
    "REFERENCE_SPEC",
    "ProfileReport",
    "ProfileSettings",
    "layer_workload",
    "measure_steady",
    "profile_layers",
    "profile_models",
    "reference_for",
    "run_workloads",
]


@dataclass(kw_only=True)
class ProfileReport:
    measured: int = 0
    skipped: int = 0
    remeasured: int = 0
    moved: int = 0  # re-measured rows whose kept median left their first 95 % interval
    failed: dict[str, str] = field(default_factory=dict)
    drift: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    made_ahead: int = 0  # model files a worker made before the loop reached them


def reference_for(backend: Backend, store: LutStore, settings: ProfileSettings) -> Reference | None:
    """The drift reference for whole models, or None when drift correction is off.

    Raises:
        LutnasError: correction is on but the backend cannot interleave (phones).
    """
    if not settings.drift_correction:
        return None
    if not backend.interleaves_reference:
        raise LutnasError(
            f"the {backend.name} backend cannot time a reference alongside each workload; "
            "profile with drift correction off (--no-drift-correction, or "
            "ProfileSettings(drift_correction=False)) for its whole models"
        )
    return calibrated_reference(backend, store, settings.warmup, settings.runs)


class _DriftWatch:
    """Re-times the reference layer every ``reference_every`` rows and reports drift against
    its first timing in this run (not the file's first: a resumed run on another day, or the
    whole-model phase, starts its own baseline). Counts are rows in the file at that moment."""

    def __init__(
        self, backend: Backend, store: LutStore, settings: ProfileSettings, report: ProfileReport
    ) -> None:
        self.backend, self.store, self.settings, self.report = backend, store, settings, report
        self.since = 0
        self.baseline_ms: float | None = None

    def check(self, force: bool = False) -> None:
        every = self.settings.reference_every
        if not every or (not force and self.since < every):
            return
        self.since = 0
        m = self.backend.measure(
            layer_workload(REFERENCE_SPEC), self.settings.warmup, self.settings.runs
        )
        rows = self.store.layer_count() + len(self.store.model_keys())
        self.store.add_reference(REFERENCE_SPEC.key, m.median_ms, rows)
        if self.baseline_ms is None:
            self.baseline_ms = m.median_ms
            return
        ratio = m.median_ms / self.baseline_ms
        if abs(ratio - 1) > self.settings.drift_threshold:
            event = {
                "rows_done": rows,
                "ratio": round(ratio, 4),
                "reference_ms": round(m.median_ms, 4),
                "baseline_ms": round(self.baseline_ms, 4),
            }
            self.report.drift.append(event)
            events = self.store.meta.get("drift_events", []) + [event]
            self.store.set_meta("drift_events", events)
            log.warning(
                "reference layer at %.2fx its timing at the start of this run, %d rows in the file",
                ratio,
                rows,
            )


@contextmanager
def _heartbeat(backend: Backend, bar: tqdm) -> Iterator[None]:
    """While the loop runs, a backend waiting long on one measurement (a phone runner, a
    cooling pause) shows it on the bar's postfix."""
    before = backend.heartbeat
    if not bar.disable:
        backend.heartbeat = bar.set_postfix_str
    try:
        yield
    finally:
        backend.heartbeat = before


def run_workloads(
    backend: Backend,
    store: LutStore,
    items: Sequence[tuple[Workload, Callable]],
    settings: ProfileSettings,
    desc: str,
    progress: bool = True,
    reference: Reference | None = None,
) -> ProfileReport:
    """Measure each ``(workload, put)`` pair and hand the result to ``put(measurement, attempts)``.

    Raises:
        DeviceLostError: the target went away; everything measured so far is stored.
        BackendError: ``max_consecutive_failures`` workloads failed in a row (systematic fault).
    """
    report = ProfileReport()
    watch = _DriftWatch(backend, store, settings, report)
    start = time.monotonic()
    consecutive = 0
    workloads = [workload for workload, _ in items]
    with (
        tqdm(
            total=len(items), desc=desc, unit="row", disable=not progress, dynamic_ncols=True
        ) as bar,
        _heartbeat(backend, bar),
        prepare_ahead(backend, workloads, settings.export_workers) as ahead,
    ):
        watch.check(force=True)

        def finish(index: int, row: RowResult | BackendError) -> None:
            nonlocal consecutive
            workload, put = items[index]
            if isinstance(row, BackendError):
                report.failed[workload.key] = str(row)
                consecutive += 1
                log.error("%s", row)
                if consecutive >= settings.max_consecutive_failures:
                    raise BackendError(
                        f"{consecutive} workloads failed in a row, the last: {row}"
                    ) from row
                bar.update(1)
                return
            consecutive = 0
            put(row.measurement, row.attempts)
            report.measured += 1
            report.remeasured += row.attempts > 1
            report.moved += row.moved
            watch.since += 1
            bar.set_postfix_str(f"{row.measurement.median_ms:.3f} ms", refresh=False)
            bar.update(1)

        if backend.batch_size > 1 and reference is None:  # a phone: rows final as they come
            measure_in_batches(backend, workloads, settings, finish, ahead.ready, watch.check)
        else:
            for index, workload in enumerate(workloads):
                ahead.ready(index)  # its model file is made (or left to the backend)
                try:
                    row = measure_row(backend, workload, settings, reference)
                except DeviceLostError:
                    raise
                except BackendError as exc:
                    finish(index, exc)
                    continue
                finish(index, row)
                watch.check()
        report.made_ahead = ahead.made_ahead
    report.seconds = time.monotonic() - start
    return report


def profile_layers(
    backend: Backend,
    store: LutStore,
    specs: Sequence[LayerSpec],
    settings: ProfileSettings,
    progress: bool = True,
) -> ProfileReport:
    """Time every spec not yet in ``store``, in a seeded random order."""
    done = store.layer_keys()
    todo = list({s.key: s for s in specs if s.key not in done}.values())
    random.Random(settings.seed).shuffle(todo)
    items = [(layer_workload(s), lambda m, a, s=s: store.put_layer(s, m, a)) for s in todo]
    report = run_workloads(backend, store, items, settings, "layers", progress)
    report.skipped = len({s.key for s in specs}) - len(todo)
    return report


def profile_models(
    backend: Backend,
    store: LutStore,
    archs: Sequence,
    settings: ProfileSettings,
    progress: bool = True,
) -> ProfileReport:
    """Time every whole architecture (``lutnas.spaces.arch.Arch``) not yet in ``store``; when the
    stored ones are from another session, first check that they are still on this session's
    scale (:mod:`profiler.scale_check`)."""
    record_in_lut(store, {a.space: get_space(a.space) for a in archs}.values())
    adopt_lut_spaces(store)  # the stored whole models a scale check re-times decode
    done = store.model_keys()
    todo = list({a.key: a for a in archs if a.key not in done}.values())
    random.Random(settings.seed).shuffle(todo)
    items = [(arch_workload(a), lambda m, n, a=a: store.put_model(a, m, n)) for a in todo]
    reference = reference_for(backend, store, settings) if todo else None
    if todo and done:
        check_scale(backend, store, lambda b, w, r: measure_steady(b, w, settings, r)[0], reference)
    report = run_workloads(backend, store, items, settings, "whole models", progress, reference)
    report.skipped = len({a.key for a in archs}) - len(todo)
    return report
