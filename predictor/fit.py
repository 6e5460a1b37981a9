"""Fitting a predictor: a LUT's rows and whole-model measurements in, the correction model, the
layer estimator and the metadata record out; and taking the rows of a LUT measured like a
saved predictor's.

The whole models are the LUT's architectures and, where ``profile-device
--whole-models-include`` timed some, torchvision networks (``training_networks`` in the LUT's
metadata, :mod:`profiler.networks`): a network's features are the sums of the layers it
decomposes into, like an architecture's."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lut.identity import with_identity_defaults
from lut.spec import LayerSpec
from lut.store import LutStore
from lut.transferred import transfer_meta, transferred_ms
from lutnas.cli_util import quote
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.stored import adopt_lut_spaces, definitions_of
from predictor import features as F
from predictor.layer_estimator import MIN_ROWS, LayerEstimator
from predictor.model import Fitted, fit_correction
from predictor.persistence import new_meta
from predictor.sums import NetworkSums
from profiler.networks import training_networks
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
    transferred: frozenset[str] = frozenset()  # keys of lut_rows moved, not measured


def as_store(lut: LutStore | str | Path) -> tuple[LutStore, bool]:
    """The store of ``lut`` and whether it was opened here (then the caller closes it)."""
    if isinstance(lut, LutStore):
        return lut, False
    return LutStore.open(lut), True


def _layer_rows(store: LutStore) -> tuple[dict[str, float], frozenset[str]]:
    """The LUT's rows (key → median ms): its measurements and its transferred rows
    (:mod:`lut.transferred`), and which keys are the transferred ones."""
    layers = store.layers_frame()
    rows = dict(zip(layers["key"], layers["median_ms"].astype(float), strict=False))
    moved = {k: ms for k, ms in transferred_ms(store).items() if k not in rows}
    return {**rows, **moved}, frozenset(moved)


def _transfer_record(store: LutStore, transferred: frozenset[str]) -> dict | None:
    """What a predictor records of its LUT's transferred rows (None: it has none)."""
    meta = transfer_meta(store)
    if not transferred or not meta:
        return None
    source = meta.get("source", {})
    return {
        "rows": len(transferred),
        "source": {k: source.get(k) for k in ("path", "backend_config", "device")},
        "pairs": meta.get("sample", {}).get("pairs"),
        "fitted_at": meta.get("fitted_at"),
    }


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


def _chosen_networks(
    recorded: dict[str, dict], networks: Sequence[str] | None, default: bool
) -> list[dict]:
    """The recorded training networks to fit on: all when ``networks`` is None and
    ``default``, else those named (``resnet18`` or ``resnet18@224``)."""
    if networks is None:
        return list(recorded.values()) if default else []
    chosen = []
    for name in networks:
        hits = [r for k, r in recorded.items() if name in (k, r["name"])]
        if not hits:
            have = ", ".join(sorted(recorded)) or "none"
            raise LutnasError(
                f"network {name!r} was not timed into this LUT (it has: {have}); time it with "
                "profile-device --whole-models-include NAME --out LUT"
            )
        chosen += [r for r in hits if r not in chosen]
    return chosen


def _network_data(
    records: list[dict],
) -> list[tuple[str, list[LayerSpec], int, float]]:
    """(``name@resolution``, layers, resolution, latency ms) of each training network."""
    if not records:
        return []
    from predictor.named_networks import torchvision_layers  # torch: only when there are some

    return [
        (
            f"{r['name']}@{int(r['resolution'])}",
            torchvision_layers(r["name"], int(r["resolution"])),
            int(r["resolution"]),
            float(r["median_ms"]),
        )
        for r in records
    ]


def fit_predictor(
    lut: LutStore | str | Path,
    measurements: object = None,
    *,
    seed: int = 0,
    estimate_missing: bool = True,
    networks: Sequence[str] | None = None,
) -> FitResult:
    """Fit on a LUT and whole-model measurements (see ``LatencyPredictor.fit``).

    Raises:
        LutnasError: too few usable measurements (architectures whose every layer is in the
            LUT), a network named in ``networks`` that the LUT has not timed, or an unreadable
            LUT.
    """
    store, opened = as_store(lut)
    try:
        rows, transferred = _layer_rows(store)
        meta_lut = {
            "path": str(Path(store.path).resolve()),
            "backend_config": store.backend_config,
            "settings": store.settings,
            "device": store.device,
            "rows": len(rows),
            "drift_reference": store.meta.get("drift_reference"),
        }
        if transferred:
            meta_lut["transferred"] = _transfer_record(store, transferred)
        adopt_lut_spaces(store)  # its whole models decode without their space files
        data = _measurements(store, measurements)
        records = _chosen_networks(
            training_networks(store.meta), networks, default=measurements is None
        )
    finally:
        if opened:
            store.close()
    nets = _network_data(records)
    estimator = None
    if estimate_missing and len(rows) >= MIN_ROWS:
        estimator = LayerEstimator.fit([LayerSpec.from_key(k) for k in rows], list(rows.values()))
    network_sums = NetworkSums(rows, estimator, transferred)
    usable, sums = [], []
    for arch, ms in data:
        vec, missing = network_sums.of_arch(arch)
        if missing:
            continue
        usable.append((arch, ms))
        sums.append(vec)
    used_nets = []
    for name, specs, res, ms in nets:
        vec, missing = network_sums.of_specs(specs, res)
        if missing:
            log.warning(
                "network %s has %d layers missing from the LUT and was left out of training; "
                "profile-device --whole-models-include %s --out %s profiles them",
                name,
                len(missing),
                name.split("@")[0],
                meta_lut["path"],
            )
            continue
        used_nets.append((name, res, ms))
        sums.append(vec)
    if len(usable) < len(data):
        log.warning(
            "%d of %d measured architectures have layers missing from the LUT and "
            "were left out of training; profile-device --fill-models --out %s profiles them",
            len(data) - len(usable),
            len(data),
            quote(meta_lut["path"]),
        )
    if not usable and not used_nets:
        raise LutnasError(
            f"none of the {len(data)} whole-model measurements can be used: "
            + (
                "the LUT holds no whole-model rows; measure some with profile-device "
                f"--out {quote(meta_lut['path'])} --whole-models 300"
                if not data
                else "their layers are missing from the LUT; profile them with: "
                f"profile-device --fill-models --out {quote(meta_lut['path'])} (with the "
                "options the LUT was profiled with, e.g. --backend, --threads, --runs, --warmup)"
            )
        )
    sums_arr = np.array(sums)
    res = np.array([a.resolution for a, _ in usable] + [r for _, r, _ in used_nets])
    x = F.network_features(sums_arr, res)
    y_ms = np.array([ms for _, ms in usable] + [ms for _, _, ms in used_nets])
    lut_sum = F.column(sums_arr, "lut_ms")
    fitted = fit_correction(x, y_ms, seed)
    training = {
        "measurements": len(y_ms),
        "left_out": len(data) - len(usable) + len(nets) - len(used_nets),
        "spaces": sorted({a.space for a, _ in usable}),
        "space_definitions": definitions_of(a.space for a, _ in usable),
        "networks": sorted(name for name, _, _ in used_nets),
        "resolutions": sorted({int(r) for r in res}),
        "latency_range_ms": [float(y_ms.min()), float(y_ms.max())],
        "lut_sum_ratio_median": float(np.median(y_ms / lut_sum)),
        "seed": seed,
    }
    meta = new_meta(lut=meta_lut, training=training, fitted=fitted, estimator=estimator)
    return FitResult(
        fitted=fitted,
        estimator=estimator,
        lut_rows=rows,
        meta=meta,
        store_path=meta_lut["path"],
        transferred=transferred,
    )


def matching_lut_rows(
    lut: LutStore | str | Path, meta: dict, predictor_path: str | Path
) -> tuple[dict[str, float], frozenset[str], str]:
    """The rows of ``lut``, which of them are transferred, and its resolved path, for the
    predictor saved at ``predictor_path`` (metadata ``meta``).

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
                f"lutnas fit --lut {quote(store.path)} --out NEW.predictor"
            )
        return *_layer_rows(store), str(Path(store.path).resolve())
    finally:
        if opened:
            store.close()
