"""Fitting a predictor: a LUT's rows and whole-model measurements in, the correction model, the
layer estimator and the metadata record out; and taking the rows of a LUT measured like a
saved predictor's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lut.identity import with_identity_defaults
from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.stored import adopt_lut_spaces, definitions_of
from predictor import features as F
from predictor.layer_estimator import MIN_ROWS, LayerEstimator
from predictor.model import Fitted, fit_correction
from predictor.persistence import new_meta
from predictor.sums import NetworkSums
from profiler.on_demand import config_diff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitResult:
    """A fitted predictor's parts (what ``LatencyPredictor`` is built from)."""

    fitted: Fitted
    estimator: LayerEstimator | None
    lut_rows: dict[str, float]
    meta: dict
    store_path: str


def as_store(lut: LutStore | str | Path) -> tuple[LutStore, bool]:
    """The store of ``lut`` and whether it was opened here (then the caller closes it)."""
    if isinstance(lut, LutStore):
        return lut, False
    return LutStore.open(lut), True


def _layer_rows(store: LutStore) -> dict[str, float]:
    layers = store.layers_frame()
    return dict(zip(layers["key"], layers["median_ms"].astype(float), strict=False))


def _measurements(store: LutStore, measurements: object) -> list[tuple[Arch, float]]:
    if measurements is None:
        measurements = store.models_frame()
    if isinstance(measurements, pd.DataFrame):
        missing = {"arch_json", "median_ms"} - set(measurements.columns)
        if missing:
            raise LutnasError(
                f"measurements need columns arch_json and median_ms "
                f"(LutStore.models_frame()); {sorted(missing)} missing"
            )
        return [
            (Arch.from_json(j), float(ms))
            for j, ms in zip(measurements["arch_json"], measurements["median_ms"], strict=False)
        ]
    out = []
    for item in measurements:  # (Arch, ms) pairs
        arch, ms = item
        if not isinstance(arch, Arch):
            raise LutnasError(f"measurements must be (Arch, latency_ms) pairs, got {item!r}")
        out.append((arch, float(ms)))
    return out


def fit_predictor(
    lut: LutStore | str | Path,
    measurements: object = None,
    *,
    seed: int = 0,
    estimate_missing: bool = True,
) -> FitResult:
    """Fit on a LUT and whole-model measurements (see ``LatencyPredictor.fit``).

    Raises:
        LutnasError: too few usable measurements (architectures whose every layer is in the
            LUT), or an unreadable LUT.
    """
    store, opened = as_store(lut)
    try:
        rows = _layer_rows(store)
        meta_lut = {
            "path": str(Path(store.path).resolve()),
            "backend_config": store.backend_config,
            "settings": store.settings,
            "device": store.device,
            "rows": len(rows),
            "drift_reference": store.meta.get("drift_reference"),
        }
        adopt_lut_spaces(store)  # its whole models decode without their space files
        data = _measurements(store, measurements)
    finally:
        if opened:
            store.close()
    estimator = None
    if estimate_missing and len(rows) >= MIN_ROWS:
        estimator = LayerEstimator.fit([LayerSpec.from_key(k) for k in rows], list(rows.values()))
    network_sums = NetworkSums(rows, estimator)
    usable, sums = [], []
    for arch, ms in data:
        vec, missing = network_sums.of_arch(arch)
        if missing:
            continue
        usable.append((arch, ms))
        sums.append(vec)
    if len(usable) < len(data):
        log.warning(
            "%d of %d measured architectures have layers missing from the LUT and "
            "were left out of training; profile-device --fill-models --out %s profiles them",
            len(data) - len(usable),
            len(data),
            meta_lut["path"],
        )
    if not usable:
        raise LutnasError(
            f"none of the {len(data)} whole-model measurements can be used: "
            + (
                "the LUT holds no whole-model rows; measure some with profile-device "
                f"--out {meta_lut['path']} --whole-models 300"
                if not data
                else "their layers are missing from the LUT; profile them with: "
                f"profile-device --fill-models --out {meta_lut['path']} (with the options the "
                "LUT was profiled with, e.g. --backend, --threads, --runs, --warmup)"
            )
        )
    sums_arr = np.array(sums)
    res = np.array([a.resolution for a, _ in usable])
    x = F.network_features(sums_arr, res)
    y_ms = np.array([ms for _, ms in usable])
    lut_sum = F.column(sums_arr, "lut_ms")
    fitted = fit_correction(x, y_ms, seed)
    training = {
        "measurements": len(usable),
        "left_out": len(data) - len(usable),
        "spaces": sorted({a.space for a, _ in usable}),
        "space_definitions": definitions_of(a.space for a, _ in usable),
        "resolutions": sorted({int(a.resolution) for a, _ in usable}),
        "latency_range_ms": [float(y_ms.min()), float(y_ms.max())],
        "lut_sum_ratio_median": float(np.median(y_ms / lut_sum)),
        "seed": seed,
    }
    meta = new_meta(lut=meta_lut, training=training, fitted=fitted, estimator=estimator)
    return FitResult(
        fitted=fitted, estimator=estimator, lut_rows=rows, meta=meta, store_path=meta_lut["path"]
    )


def matching_lut_rows(
    lut: LutStore | str | Path, meta: dict, predictor_path: str | Path
) -> tuple[dict[str, float], str]:
    """The rows of ``lut`` and its resolved path, for the predictor saved at ``predictor_path``
    (metadata ``meta``).

    Raises:
        LutnasError: the LUT was measured with another backend configuration or settings than
            the predictor's (the differences are named).
    """
    store, opened = as_store(lut)
    try:
        theirs = {"backend_config": store.backend_config, "settings": store.settings}
        ours = {
            "backend_config": with_identity_defaults(meta["lut"]["backend_config"]),
            "settings": meta["lut"]["settings"],
        }
        if theirs != ours:
            diffs = [config_diff(ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]]
            raise LutnasError(
                f"the predictor {predictor_path} was fitted on a LUT measured with another "
                f"device, backend or settings than {store.path} ({'; '.join(diffs)}"
                f"); its predictions would not hold there. Fit one for this LUT: "
                f"lutnas fit --lut {store.path} --out NEW.predictor"
            )
        return _layer_rows(store), str(Path(store.path).resolve())
    finally:
        if opened:
            store.close()
