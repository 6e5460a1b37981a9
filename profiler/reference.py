"""Drift correction: time each workload interleaved with a fixed reference, then rescale.

On a shared or virtualised CPU the speed of the whole machine wanders by several percent within
seconds (other tenants, frequency changes). Two 50-run medians of the same model taken a minute
apart differ by 3-5% here, which no predictor can beat. That wander is common to everything
running on the core at the time, so a backend that can (the host backends) alternates one run of
the workload with one run of a fixed reference, and the loop reports

    latency_ms = raw median of the workload × nominal_ms / median of the interleaved reference

where ``nominal_ms`` is the reference's latency calibrated once per LUT (with many runs, stored
in the metadata, reused on resume). Measured here: the raw 50-run median of a whole model wanders
with a CV of 3-4%, its ratio to an interleaved similar-sized model with a CV of about 1%; a small
reference layer removes about half of the wander. So layers are paired with a reference layer and
whole models with a reference model. Numbers are in "ms at the speed the machine had at
calibration"; the raw median stays recoverable as ``median_ms / drift_factor``.

Phones are not corrected this way: their runners time a workload in one go on the device.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lut.spec import LayerSpec
from profiler.base import Backend, Measurement, Workload
from profiler.workloads import arch_workload, layer_workload

if TYPE_CHECKING:
    from lut.store import LutStore

log = logging.getLogger(__name__)

# A mid-sized MBConv at 14×14: long enough to time well, short enough to cost little. Also the
# layer the drift watch re-times (profiler.loop).
REFERENCE_SPEC = LayerSpec("mbconv", 3, 6, 0.0, "idskip", "relu", 64, 64, 1, 14, 14)
REFERENCE_ARCH = "mnasnet-a1"  # the whole-model reference, at 224×224
CALIBRATION_FACTOR = 10  # calibration takes this many times the LUT's runs per measurement
KINDS = ("layers", "models")


def reference_workload(kind: str) -> Workload:
    """The reference timed alongside workloads of ``kind`` ("layers" or "models")."""
    if kind == "layers":
        return layer_workload(REFERENCE_SPEC)
    if kind == "models":
        from search.named import get_named_arch

        return arch_workload(get_named_arch(REFERENCE_ARCH))
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


@dataclass(frozen=True)
class Reference:
    """A reference workload and its calibrated latency."""

    workload: Workload
    nominal_ms: float

    def correct(self, m: Measurement, reference: Measurement) -> Measurement:
        """``m`` rescaled to the calibration speed, given the reference timed alongside it."""
        return m.scaled(self.nominal_ms / reference.median_ms, reference.median_ms)


def stored_reference(drift_references: dict | None, kind: str) -> Reference | None:
    """The reference of ``kind`` as calibrated for a LUT (its ``meta.drift_references``), or
    None when that LUT has none of this kind."""
    stored = (drift_references or {}).get(kind)
    workload = reference_workload(kind)
    if not stored or stored["key"] != workload.key:
        return None
    return Reference(workload, float(stored["nominal_ms"]))


def calibrated_reference(
    backend: Backend, store: LutStore, kind: str, warmup: int, runs: int
) -> Reference:
    """The reference of ``kind`` for this LUT: calibrated now (``runs`` × CALIBRATION_FACTOR
    timed runs) and stored in ``meta.drift_references``, or read back from there on resume."""
    stored = dict(store.meta.get("drift_references") or {})
    known = stored_reference(stored, kind)
    if known is not None:
        return known
    workload = reference_workload(kind)
    m = backend.measure(workload, warmup, runs * CALIBRATION_FACTOR)
    stored[kind] = {"key": workload.key, "nominal_ms": m.median_ms, "runs": m.n}
    store.set_meta("drift_references", stored)
    log.info("calibrated the %s reference %s: %.4f ms", kind, workload.key, m.median_ms)
    return Reference(workload, m.median_ms)
