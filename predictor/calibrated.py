"""A predictor calibrated to a new device from a few whole-model measurements.

    hosted = LatencyPredictor.load("host.predictor")
    pixel = hosted.calibrate([("mnasnet-a1", 78.2), ("mobilenet_v2", 90.1), ...],
                             device="Pixel 7")
    pixel.save("pixel7.predictor")          # LatencyPredictor.load gives it back calibrated

The source predictor (its LUT rows, features and learned correction) is kept whole; a
:class:`~predictor.calibration.Calibration` maps its latency to the target device. Every
prediction path (``predict``, ``predict_many``, ``predict_detail``, ``predict_module``) goes
through the map, and detailed predictions say that they are calibrated, from how many
measurements and with which model. The record (source and target device, N, the measurements
and the model) lives in the predictor's ``meta.json`` under ``calibration``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import math
from collections.abc import Sequence

import numpy as np

from lut.spec import LayerSpec
from lutnas.cli_util import quote
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.stored import adopt_lut_spaces
from predictor.api import LatencyPredictor
from predictor.calibration import Calibration, NetworkNumbers, fit_calibration
from predictor.calibration_input import expand_all
from predictor.features import layer_cost
from predictor.prediction import Prediction
from profiler.precision import precision_of

log = logging.getLogger(__name__)
_layer_cost = functools.lru_cache(maxsize=200_000)(layer_cost)


def _numbers(source_ms: float, specs: Sequence[LayerSpec]) -> NetworkNumbers:
    costs = [_layer_cost(s) for s in specs]
    return NetworkNumbers(
        source_ms=float(source_ms),
        macs_m=sum(c[0] for c in costs),
        act_m=sum(c[2] for c in costs),
        layers=len(specs),
    )


def calibrate(
    source: LatencyPredictor,
    measurements: Sequence[tuple],
    device: str,
    sources: Sequence[str] | None = None,
    precision: str | None = None,
    delegate: str | None = None,
) -> CalibratedPredictor:
    """``source`` moved to ``device`` with these measurements (see
    :func:`predictor.calibration_input.expand`), made in ``precision`` with ``delegate``
    (default: the source's); ``sources`` names where each came from (``pixel7.csv:4``) in
    errors. A source of another precision is allowed, with a caveat: it is the transfer case
    (an fp32 prior for an int8 target)."""
    if not str(device).strip():
        raise LutnasError("name the target device (device=..., --device)")
    if isinstance(source, CalibratedPredictor):
        raise LutnasError("calibrate the original predictor, not an already calibrated one")
    expanded = expand_all(measurements, sources)
    details = LatencyPredictor.predict_details(source, [specs for _, _, specs, _, _ in expanded])
    rows, numbers, ys = [], [], []
    for (label, family, specs, resolution, latency_ms), detail in zip(
        expanded, details, strict=True
    ):
        numbers.append(_numbers(detail.latency_ms, specs))
        ys.append(latency_ms)
        rows.append(
            {
                "network": label,
                "resolution": resolution,
                "latency_ms": latency_ms,
                "source_ms": round(detail.latency_ms, 6),
                "family": family,
                "estimated_share": round(detail.estimated_share, 4),
                "out_of_distribution": detail.out_of_distribution,
            }
        )
    calibration = fit_calibration(numbers, ys)
    ratio = float(np.median(np.array(ys) / np.array([n.source_ms for n in numbers])))
    record = {
        "source_device": source.backend_config.get("device", ""),
        "target_device": str(device),
        "source_precision": precision_of(source.backend_config),
        "target_precision": precision or precision_of(source.backend_config),
        "target_delegate": delegate or source.backend_config.get("delegate"),
        "n": len(ys),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "median_target_over_source": ratio,
        "model": calibration.to_dict(),
        "measurements": rows,
    }
    meta = {**source.meta, "calibration": record}
    target = CalibratedPredictor(
        source.fitted,
        source.estimator,
        source.lut_rows,
        meta,
        source.lut_path,
        source.transferred_keys,
    )
    for line in target.caveats():
        log.warning("%s", line)
    return target


class CalibratedPredictor(LatencyPredictor):
    """A :class:`LatencyPredictor` whose every prediction is mapped to a target device."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        record = self.meta.get("calibration")
        if not isinstance(record, dict):
            raise LutnasError("a calibrated predictor needs its calibration record")
        self.calibration = Calibration.from_dict(record.get("model") or {})
        self.record = record
        self._caveats = self._find_caveats()

    @property
    def fingerprint(self) -> str:
        text = super().fingerprint + json.dumps(self.record["model"], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def backend_config(self) -> dict:
        """The target device, with the source configuration it was calibrated from."""
        source = super().backend_config
        config = {
            "backend": "calibrated",
            "device": self.record["target_device"],
            "threads": source.get("threads"),
            "precision": self.record.get("target_precision") or precision_of(source),
            "calibrated_from": source,
        }
        delegate = self.record.get("target_delegate", source.get("delegate"))
        return {**config, "delegate": delegate} if delegate else config

    @property
    def latency_range_ms(self) -> tuple[float, float] | None:
        """The source's training range, moved by the median target/source ratio."""
        source = super().latency_range_ms
        if source is None:
            return None
        r = float(self.record.get("median_target_over_source", 1.0))
        return (source[0] * r, source[1] * r)

    def caveats(self) -> list[str]:
        """What makes this calibration less trustworthy than its leave-one-out error says: the
        measured networks lie outside what the source predictor was fitted on (any from another
        search space; a quarter or more resting on rows its LUT lacks or outside its training
        range), so the map was fitted on the source's extrapolations. Empty for a calibration
        recorded before this was kept.
        """
        return list(self._caveats)

    def _find_caveats(self) -> list[str]:
        out: list[str] = []
        rows = [r for r in self.record.get("measurements", []) if "family" in r]
        if not rows:
            return out
        source, target = self.record.get("source_precision"), self.record.get("target_precision")
        if source and target and source != target:
            out.append(
                f"the source predictor times {source} and the measurements are {target}: a "
                f"prior of another precision (the transfer case); what carries over is the "
                f"ranking, and {target} moves depthwise, pointwise and element-wise ops by "
                "different factors, so measure more networks than for a same-precision prior"
            )
        known = set(self.training_spaces)
        foreign = sorted({r["family"] for r in rows} - known - {"torchvision", "module"})
        if known and foreign:
            n = sum(r["family"] in foreign for r in rows)
            out.append(
                f"{n} of {len(rows)} measured networks are from the search space(s) "
                f"{', '.join(foreign)}, and the source predictor was fitted on "
                f"{', '.join(sorted(known))}: fit the source on a LUT of "
                f"{'that space' if len(foreign) == 1 else 'those spaces'} "
                f"(profile-device --space {foreign[0]} ..., lutnas fit) and calibrate that"
            )
        many = len(rows) / 4  # a stray network or two is normal; a quarter or more is not
        estimated = [r["estimated_share"] for r in rows if r["estimated_share"] > 0]
        if len(estimated) >= many:
            out.append(
                f"{len(estimated)} of {len(rows)} measured networks rest on LUT rows the source "
                f"does not hold (estimated; up to {100 * max(estimated):.0f}% of a network's "
                "LUT sum): the map corrects estimates, not measurements"
            )
        ood = sum(bool(r["out_of_distribution"]) for r in rows)
        if ood >= many:
            out.append(
                f"{ood} of {len(rows)} measured networks lie outside the source predictor's "
                "training networks (out of distribution): its predictions for them extrapolate"
            )
        return out

    def describe(self) -> str:
        c = self.calibration
        return (
            f"calibrated to {self.record['target_device']} from {c.n} "
            f"measurement{'' if c.n == 1 else 's'} "
            f"({c.kind} model, leave-one-out RMSPE "
            + (f"{c.loo_rmspe[c.kind]:.1f}%" if c.loo_rmspe.get(c.kind) is not None else "unknown")
            + f"; source {self.record['source_device']}"
            + ("; measured networks outside the source's training set" if self._caveats else "")
            + ")"
        )

    def predict_many(self, archs: Sequence[Arch], strict: bool = False) -> np.ndarray:
        source = super().predict_many(archs, strict)
        return self.calibration.apply(
            [_numbers(p, a.layers()) for p, a in zip(source, archs, strict=True)]
        )

    def _calibrated(self, p: Prediction) -> Prediction:
        specs = [LayerSpec.from_key(k) for k in p.layers]
        (ms,) = self.calibration.apply([_numbers(p.latency_ms, specs)])
        w = math.exp(self.calibration.interval_log)
        low = min(ms / w, ms * p.low_ms / p.latency_ms)  # the source's own spread, at least
        high = max(ms * w, ms * p.high_ms / p.latency_ms)
        return dataclasses.replace(
            p,
            latency_ms=float(ms),
            low_ms=float(low),
            high_ms=float(high),
            calibration=self.describe(),
        )

    def predict_detail(self, network, resolution=None, strict=False) -> Prediction:
        return self._calibrated(super().predict_detail(network, resolution, strict))

    def predict_details(self, networks, strict=False) -> list[Prediction]:
        return [self._calibrated(p) for p in super().predict_details(networks, strict)]

    def predict_module(
        self, module, input_shape=(1, 3, 224, 224), backend=None, strict=False
    ) -> Prediction:
        if backend is not None:
            raise LutnasError(
                "a calibrated predictor cannot measure missing rows on a backend: "
                "its LUT is the source device's"
            )
        return self._calibrated(super().predict_module(module, input_shape, None, strict))

    def __repr__(self) -> str:
        return f"CalibratedPredictor({self.describe()})"


def calibrate_from_lut(source: LatencyPredictor, lut) -> CalibratedPredictor:
    """``source`` calibrated with the whole models of a target LUT (e.g. one made by
    ``profile-device --whole-models N --no-layers`` on the target), named by its device.

    Raises:
        LutnasError: the LUT holds no whole models.
    """
    from lut.store import LutStore

    with LutStore.open(lut, writable=False) as store:
        adopt_lut_spaces(store)
        frame = store.models_frame()
        config = store.backend_config
    if frame.empty:
        raise LutnasError(
            f"{lut} holds no whole-model measurements; time some on the target with: "
            f"profile-device --whole-models 10 --no-layers --out {quote(lut)}"
        )
    device = f"{config.get('device') or config.get('backend')} ({config.get('backend')})"
    items = [
        (Arch.from_json(j), ms)
        for j, ms in zip(frame["arch_json"], frame["median_ms"], strict=True)
    ]
    return calibrate(
        source,
        items,
        device=device,
        precision=precision_of(config),
        delegate=config.get("delegate"),
    )
