"""Drift correction of whole-model timings: take turns with a fixed reference model, rescale.

On a shared or virtualised CPU the speed of the whole machine wanders by several percent over
seconds (other tenants, frequency changes): two 50-run medians of the same model taken a minute
apart differ by several percent, and the whole-model measurements are the predictor's ground
truth, which no predictor can beat. The wander is common to everything
running on the core at the time, so a backend that can (the host backends) times each whole
model in turns with a fixed reference model (:func:`profiler.timing.time_interleaved`), and the
loop reports

    latency_ms = raw median of the model × nominal_ms / median of the reference meanwhile

where ``nominal_ms`` is the reference's latency calibrated once per LUT (many runs, stored in
``meta.drift_reference`` and reused on resume, so a LUT resumed another day keeps one scale).
Measured here: the raw 50-run median of a model wanders with a CV of 3-4%, its ratio to a
similar model timed in turns with it by about 1%. The raw median stays recoverable as
``median_ms / drift_factor``.

Layers are not corrected this way. Tried on the full LUT, it biased them: a layer of a few
microseconds and a reference layer evict each other's data from the caches, so small layers
read up to 20% slow and large ones made the reference slow (a factor correlated with the
layer's size, r = -0.5). A model's latency is a sum of ~25 rows, whose independent noise
averages out; its rows' bias would not. Phones are not corrected either: their runners time a
workload in one go on the device (cool-down pauses and ``taskset`` instead).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lut.measurement import Measurement
from lut.spec import LayerSpec
from profiler.base import Backend, Workload
from profiler.workloads import arch_workload

if TYPE_CHECKING:
    from lut.store import LutStore

log = logging.getLogger(__name__)

# The layer the drift watch re-times now and then (profiler.loop): a mid-sized MBConv at 14×14,
# long enough to time well, short enough to cost little.
REFERENCE_SPEC = LayerSpec(
    op="mbconv",
    kernel=3,
    expansion=6,
    se_ratio=0.0,
    skip="idskip",
    act="relu",
    cin=64,
    cout=64,
    stride=1,
    input_h=14,
    input_w=14,
)
REFERENCE_ARCH = "mnasnet-a1"  # the whole-model reference, at 224×224
CALIBRATION_FACTOR = 10  # calibration takes this many times the LUT's runs per measurement


def reference_workload() -> Workload:
    """The reference model timed in turns with every whole model."""
    from lutnas.spaces.named import get_named_arch

    return arch_workload(get_named_arch(REFERENCE_ARCH))


@dataclass(frozen=True)
class Reference:
    """A reference workload and its calibrated latency."""

    workload: Workload
    nominal_ms: float

    def correct(self, m: Measurement, reference: Measurement) -> Measurement:
        """``m`` rescaled to the calibration speed, given the reference timed alongside it."""
        return m.scaled(self.nominal_ms / reference.median_ms, reference.median_ms)


def stored_reference(drift_reference: dict | None) -> Reference | None:
    """The reference as calibrated for a LUT (its ``meta.drift_reference``), or None when that
    LUT has none (or one of another reference model)."""
    workload = reference_workload()
    if not drift_reference or drift_reference.get("key") != workload.key:
        return None
    return Reference(workload, float(drift_reference["nominal_ms"]))


def calibrated_reference(backend: Backend, store: LutStore, warmup: int, runs: int) -> Reference:
    """The reference for this LUT: read back from ``meta.drift_reference``, or calibrated now
    (``runs`` × CALIBRATION_FACTOR timed runs) and stored there."""
    known = stored_reference(store.meta.get("drift_reference"))
    if known is not None:
        return known
    workload = reference_workload()
    m = backend.measure(workload, warmup, runs * CALIBRATION_FACTOR)
    store.set_meta("drift_reference", {"key": workload.key, "nominal_ms": m.median_ms, "runs": m.n})
    log.info("calibrated the reference %s: %.4f ms", workload.key, m.median_ms)
    return Reference(workload, m.median_ms)
