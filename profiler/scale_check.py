"""Before timing more whole models into a LUT that holds some from another session: are the
stored ones still on the scale the machine times at now?

The drift correction (:mod:`profiler.reference`) keeps whole models on one scale within a
session and across fresh processes minutes apart, but not across days on a shared VM: whole
models of three LUTs re-timed idle the next day read 0.78-0.85x their stored values
(docs/how-it-works.md). A profile resumed then would mix two scales in one table without a word.
So when the newest stored whole model is more than :data:`STALE_AFTER_S` old, a resumed run
first re-times :data:`MODELS` of them, spread over the stored latencies, records the result in
the LUT's meta (``scale_checks``) and warns when their median moved more than
:data:`SCALE_MOVED`. The stored rows are not changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np

from lut.store import LutStore
from lut.store_util import now
from lutnas.spaces.arch import Arch
from profiler.base import Backend, BackendError, DeviceLostError
from profiler.reference import Reference
from profiler.workloads import arch_workload

log = logging.getLogger(__name__)

MODELS = 3  # stored whole models re-timed per check
STALE_AFTER_S = 3600  # a check when the newest stored whole model is older than this
SCALE_MOVED = 0.10  # warn when the re-timed models' median ratio is further than this from 1
META_KEY = "scale_checks"


@dataclass(frozen=True)
class ScaleCheck:
    """Stored whole models re-timed now: their keys, stored and new latencies (ms)."""

    keys: tuple[str, ...]
    stored_ms: tuple[float, ...]
    now_ms: tuple[float, ...]

    @property
    def ratio(self) -> float:
        """Median of new ÷ stored."""
        return float(np.median(np.array(self.now_ms) / np.array(self.stored_ms)))

    @property
    def moved(self) -> bool:
        return abs(self.ratio - 1) > SCALE_MOVED


def check_scale(
    backend: Backend, store: LutStore, measure, reference: Reference | None
) -> ScaleCheck | None:
    """Re-time a few stored whole models when the newest is older than :data:`STALE_AFTER_S`
    (None otherwise, or when none is stored). ``measure(backend, workload, reference)`` is the
    loop's steady measurement; a found move is logged as a warning and every check is kept in
    ``meta.scale_checks``."""
    frame = store.models_frame()
    if frame.empty:
        return None
    newest = dt.datetime.fromisoformat(max(frame["measured_at"]))
    if newest.tzinfo is None:  # written in UTC (lut.store_util.now); be safe with older files
        newest = newest.replace(tzinfo=dt.UTC)
    age_s = (dt.datetime.now(dt.UTC) - newest).total_seconds()
    if age_s <= STALE_AFTER_S:
        return None
    frame = frame.sort_values("median_ms")
    picks = frame.iloc[np.unique(np.linspace(0, len(frame) - 1, MODELS).round().astype(int))]
    try:
        new_ms = [
            measure(backend, arch_workload(Arch.from_json(j)), reference).median_ms
            for j in picks["arch_json"]
        ]
    except DeviceLostError:
        raise
    except BackendError as exc:  # the check is a courtesy: never the reason a resume fails
        log.warning("could not re-time stored whole models to check their scale: %s", exc)
        return None
    check = ScaleCheck(
        keys=tuple(picks["arch_key"]),
        stored_ms=tuple(float(v) for v in picks["median_ms"]),
        now_ms=tuple(float(v) for v in new_ms),
    )
    record = {"checked_at": now(), "hours_since_newest": round(age_s / 3600, 2)}
    record |= {"ratio": round(check.ratio, 4), "keys": list(check.keys)}
    record |= {"stored_ms": list(check.stored_ms), "now_ms": list(check.now_ms)}
    store.set_meta(META_KEY, [*store.meta.get(META_KEY, []), record])
    if check.moved:
        log.warning(
            "%d whole models stored %.1f hours ago read %.2fx their stored latency now: the "
            "machine's speed differs from then, and whole models timed now will not be on one "
            "scale with the stored ones. Time all of them in one session instead (on an idle "
            "machine: python benchmarks/retime_models.py %s NEW.lut), or profile into a new LUT",
            len(check.keys),
            age_s / 3600,
            check.ratio,
            store.path,
        )
    return check
