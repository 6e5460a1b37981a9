"""``LatencyPredictor``: whole-network latency from a LUT, corrected by a learned model.

    from predictor import LatencyPredictor
    p = LatencyPredictor.fit("host.lut")           # the LUT's whole-model rows are the data
    p.save("host.predictor")
    p = LatencyPredictor.load("host.predictor")    # self-contained: carries its LUT rows
    p.predict(arch)                                # ms
    p.predict_many(archs)                          # numpy array, one XGBoost call
    p.predict_detail(arch)                         # interval, OOD flag, estimated share
    p.predict_module(torchvision.models.mobilenet_v2(), (1, 3, 224, 224))

A prediction is ``lut_sum × exp(correction)``. Layers missing from the LUT are estimated by
the per-kind layer estimator (reported in :class:`Prediction`), measured on demand when a
backend is given to :meth:`LatencyPredictor.predict_module`, or refused with ``strict=True``.
An unknown layer never counts as zero.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas import __version__
from lutnas.errors import LutnasError
from predictor import features as F
from predictor.layer_estimator import MIN_ROWS, LayerEstimator
from predictor.model import ALPHAS, BASE_TERMS, OOD_MARGIN, Fitted, fit_correction
from predictor.persistence import read_dir, write_dir
from predictor.sums import NetworkSums
from spaces.arch import Arch

log = logging.getLogger(__name__)
_SHOW_KEYS = 20  # missing keys listed in an error message


@dataclass(frozen=True)
class Prediction:
    """One network's predicted latency and how far to trust it (all times in ms).

    Attributes:
        latency_ms: the prediction.
        low_ms, high_ms: the nominal 90% interval (conformalised 5%/95% quantiles).
        lut_sum_ms: the plain sum of the network's LUT rows (estimated ones included).
        estimated_share: share of the LUT sum resting on estimated (unmeasured) rows.
        estimated_keys: the rows that were estimated.
        measured_keys: rows measured on demand for this prediction.
        out_of_distribution: True when the network lies outside the training networks.
        ood_reasons: which features lie outside, and their training ranges.
        layers: the network's layer keys, in order.
    """

    latency_ms: float
    low_ms: float
    high_ms: float
    lut_sum_ms: float
    estimated_share: float
    estimated_keys: tuple[str, ...]
    measured_keys: tuple[str, ...]
    out_of_distribution: bool
    ood_reasons: tuple[str, ...]
    layers: tuple[str, ...]

    def summary(self) -> str:
        lines = [
            f"{self.latency_ms:.3f} ms (90% interval {self.low_ms:.3f}-{self.high_ms:.3f}; "
            f"LUT sum {self.lut_sum_ms:.3f} ms over {len(self.layers)} layers)"
        ]
        if self.estimated_keys:
            lines.append(
                f"  {len(self.estimated_keys)} rows estimated, "
                f"{100 * self.estimated_share:.1f}% of the LUT sum"
            )
        if self.measured_keys:
            lines.append(f"  {len(self.measured_keys)} rows measured on demand")
        if self.out_of_distribution:
            lines.append(
                "  OUT OF DISTRIBUTION (the prediction extrapolates): "
                + "; ".join(self.ood_reasons[:6])
            )
        return "\n".join(lines)


def _identity(backend_config: dict, settings: dict) -> dict:
    return {"backend_config": backend_config, "settings": settings}


def _diff(a: dict, b: dict) -> str:
    keys = sorted(set(a) | set(b))
    return ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys if a.get(k) != b.get(k))


def _as_store(lut: LutStore | str | Path) -> tuple[LutStore, bool]:
    if isinstance(lut, LutStore):
        return lut, False
    return LutStore.open(lut), True


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


def _refit(meta: dict, path: str | Path) -> str:
    return f"refit it: lutnas fit --lut {meta['lut']['path']} --out {path}"


def _check_features(meta: dict, path: str | Path) -> None:
    """Refuse a predictor whose model inputs or linear base terms are not this version's.

    Predictors written before the trees saw only :data:`~predictor.features.MODEL_FEATURES`
    (lutnas versions without ``predictor.fast_trees``) have no ``model_features`` record; their
    trees index columns this version no longer gives them.

    Raises:
        LutnasError: naming the refit command.
    """
    if "model_features" not in meta:
        raise LutnasError(
            f"{path} was written by an older lutnas ({meta['tool_version']}, created "
            f"{meta['created_at']}) whose model takes other inputs; it must be refit with this "
            f"version: lutnas fit --lut {meta['lut']['path']} --out {path}"
        )
    if meta["features"] != list(F.FEATURES) or meta["model_features"] != list(F.MODEL_FEATURES):
        raise LutnasError(
            f"{path} was fitted with other features (lutnas {meta['tool_version']}); "
            + _refit(meta, path)
        )
    if meta["base"]["terms"] != list(BASE_TERMS):
        raise LutnasError(
            f"{path} has a linear base on {', '.join(meta['base']['terms'])}; this lutnas's "
            f"base is on {', '.join(BASE_TERMS)}; " + _refit(meta, path)
        )


class LatencyPredictor:
    """Predicts whole-network latency on the device and backend of one LUT.

    Build with :meth:`fit` or :meth:`load`; the constructor is internal.
    """

    def __init__(
        self,
        fitted: Fitted,
        estimator: LayerEstimator | None,
        lut_rows: dict[str, float],
        meta: dict,
        store_path: str | None = None,
    ) -> None:
        self.fitted = fitted
        self.meta = meta
        self.sums = NetworkSums(lut_rows, estimator)
        self._store_path = store_path

    @property
    def estimator(self) -> LayerEstimator | None:
        """The per-kind estimator of rows missing from the LUT (None: missing rows refused)."""
        return self.sums.estimator

    @property
    def lut_rows(self) -> dict[str, float]:
        """The LUT rows predictions use: layer key → median ms."""
        return self.sums.rows

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        lut: LutStore | str | Path,
        measurements: object = None,
        *,
        seed: int = 0,
        estimate_missing: bool = True,
    ) -> LatencyPredictor:
        """Fit on a LUT and whole-model measurements made with the same backend configuration.

        Args:
            lut: a :class:`LutStore` or the path of a LUT file.
            measurements: a frame like ``LutStore.models_frame()`` (``arch_json``,
                ``median_ms``) or ``(Arch, latency_ms)`` pairs; default: the LUT's own
                whole-model rows.
            seed: seeds cross-validation folds and XGBoost.
            estimate_missing: also fit the layer estimator (needs at least 30 LUT rows).

        Raises:
            LutnasError: too few usable measurements (architectures whose every layer is in the
                LUT), or an unreadable LUT.
        """
        store, opened = _as_store(lut)
        try:
            layers = store.layers_frame()
            rows = dict(zip(layers["key"], layers["median_ms"].astype(float), strict=False))
            meta_lut = {
                "path": str(Path(store.path).resolve()),
                "backend_config": store.backend_config,
                "settings": store.settings,
                "device": store.device,
                "rows": len(rows),
                "drift_reference": store.meta.get("drift_reference"),
            }
            data = _measurements(store, measurements)
        finally:
            if opened:
                store.close()
        estimator = None
        if estimate_missing and len(rows) >= MIN_ROWS:
            estimator = LayerEstimator.fit(
                [LayerSpec.from_key(k) for k in rows], list(rows.values())
            )
        skeleton = cls(None, estimator, rows, {"lut": meta_lut}, meta_lut["path"])  # type: ignore[arg-type]
        usable, sums = [], []
        for arch, ms in data:
            vec, missing = skeleton.sums.of_arch(arch)
            if missing:
                continue
            usable.append((arch, ms))
            sums.append(vec)
        if len(usable) < len(data):
            log.warning(
                "%d of %d measured architectures have layers missing from the LUT and "
                "were left out of training",
                len(data) - len(usable),
                len(data),
            )
        if not usable:
            raise LutnasError(
                f"none of the {len(data)} whole-model measurements can be used: "
                + (
                    "the LUT holds no whole-model rows; measure some with profile-device "
                    f"--out {meta_lut['path']} --whole-models 300"
                    if not data
                    else "their layers are missing from the LUT; profile them with profile-device "
                    "--archs"
                )
            )
        sums_arr = np.array(sums)
        res = np.array([a.resolution for a, _ in usable])
        x = F.network_features(sums_arr, res)
        y_ms = np.array([ms for _, ms in usable])
        lut_sum = F.column(sums_arr, "lut_ms")
        fitted = fit_correction(x, y_ms, seed)
        meta = {
            "format": "lutnas-predictor",
            "schema_version": 1,
            "tool_version": __version__,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "xgboost": xgb.__version__,
            "lut": meta_lut,
            "features": list(F.FEATURES),
            "model_features": list(F.MODEL_FEATURES),
            "training": {
                "measurements": len(usable),
                "left_out": len(data) - len(usable),
                "spaces": sorted({a.space for a, _ in usable}),
                "resolutions": sorted({int(a.resolution) for a, _ in usable}),
                "latency_range_ms": [float(y_ms.min()), float(y_ms.max())],
                "lut_sum_ratio_median": float(np.median(y_ms / lut_sum)),
                "params": fitted.params,
                "rounds": fitted.rounds,
                "cv": fitted.cv,
                "seed": seed,
            },
            "interval": {"alphas": list(ALPHAS), "conformal_q": fitted.conformal_q},
            "base": {"terms": list(BASE_TERMS), "coef": [float(c) for c in fitted.base_coef]},
            "ood": {"margin": OOD_MARGIN, "ranges": fitted.ranges},
            "layer_estimator": (estimator.to_raw()[0] if estimator else None),
        }
        return cls(fitted, estimator, rows, meta, meta_lut["path"])

    def save(self, path: str | Path) -> Path:
        """Write the predictor directory (see :mod:`predictor.persistence`)."""
        files = {
            "point.ubj": bytes(self.fitted.point.save_raw("ubj")),
            "quantiles.ubj": bytes(self.fitted.quantiles.save_raw("ubj")),
            "lut_rows.json": json.dumps(self.lut_rows, sort_keys=True).encode(),
        }
        if self.estimator is not None:
            for kind, data in self.estimator.to_raw()[1].items():
                files[f"layers-{kind}.ubj"] = data
        return write_dir(path, self.meta, files)

    @classmethod
    def load(cls, path: str | Path, lut: LutStore | str | Path | None = None) -> LatencyPredictor:
        """Load a saved predictor; with ``lut``, also use that LUT's rows (it must have been
        measured with the same backend configuration and settings as the predictor's).

        Raises:
            LutnasError: not a predictor, damaged files, or a LUT from another device/backend.
        """
        meta, files = read_dir(path)
        _check_features(meta, path)

        def booster(name: str) -> xgb.Booster:
            b = xgb.Booster()
            b.load_model(bytearray(files[name]))
            if b.num_features() != len(F.MODEL_FEATURES):  # a hand-edited or mixed-up directory
                raise LutnasError(
                    f"{path}/{name} takes {b.num_features()} features, this lutnas gives "
                    f"{len(F.MODEL_FEATURES)}; {_refit(meta, path)}"
                )
            return b

        fitted = Fitted(
            point=booster("point.ubj"),
            quantiles=booster("quantiles.ubj"),
            conformal_q=float(meta["interval"]["conformal_q"]),
            params=meta["training"]["params"],
            rounds=meta["training"]["rounds"],
            cv=meta["training"]["cv"],
            ranges=meta["ood"]["ranges"],
            base_coef=np.array(meta["base"]["coef"], dtype=float),
        )
        estimator = None
        if meta.get("layer_estimator"):
            raw = {k: files[f"layers-{k}.ubj"] for k in meta["layer_estimator"]["kinds"]}
            estimator = LayerEstimator.from_raw(meta["layer_estimator"], raw)
        rows = json.loads(files["lut_rows.json"])
        store_path = meta["lut"]["path"]
        if lut is not None:
            store, opened = _as_store(lut)
            try:
                theirs = _identity(store.backend_config, store.settings)
                ours = _identity(meta["lut"]["backend_config"], meta["lut"]["settings"])
                if theirs != ours:
                    diffs = [
                        _diff(ours[k], theirs[k])
                        for k in ("backend_config", "settings")
                        if ours[k] != theirs[k]
                    ]
                    raise LutnasError(
                        f"the predictor {path} was fitted on a LUT measured with another "
                        f"device, backend or settings than {store.path} ({'; '.join(diffs)}"
                        f"); its predictions would not hold there. Fit one for this LUT: "
                        f"lutnas fit --lut {store.path} --out NEW.predictor"
                    )
                layers = store.layers_frame()
                rows.update(
                    dict(zip(layers["key"], layers["median_ms"].astype(float), strict=False))
                )
                store_path = str(Path(store.path).resolve())
            finally:
                if opened:
                    store.close()
        return cls(fitted, estimator, rows, meta, store_path)

    # --- identity ------------------------------------------------------------------------
    @property
    def backend_config(self) -> dict:
        return self.meta["lut"]["backend_config"]

    def profile_command(self, what: str = "--archs ARCHS.json") -> str:
        cfg, settings = self.backend_config, self.meta["lut"]["settings"]
        return (
            f"profile-device --backend {cfg.get('backend', 'onnxruntime')} "
            f"--threads {cfg.get('threads', 1)} --warmup {settings.get('warmup')} "
            f"--runs {settings.get('runs')} "
            f"--out {self._store_path or 'LUT'} {what}"
        )

    def _missing_error(self, keys: Sequence[str], what: str, how: str) -> LutnasError:
        shown = ", ".join(keys[:_SHOW_KEYS]) + (
            f", ... ({len(keys)} in all)" if len(keys) > _SHOW_KEYS else ""
        )
        return LutnasError(
            f"{len(keys)} layer(s) of {what} are not in the LUT and strict=True refuses to "
            f"estimate them: {shown}. {how} Or pass strict=False to estimate them (the "
            "prediction then reports its estimated share)."
        )

    # --- layer sums ----------------------------------------------------------------------
    def _archs_sums(self, archs: Sequence[Arch], strict: bool) -> np.ndarray:
        sums, missing, n_bad = self.sums.of_archs(archs)
        if missing and (strict or self.estimator is None):
            raise self._missing_error(
                missing,
                f"{n_bad} architecture(s)",
                "Save the architectures (spaces.io.save_archs) and measure them with: "
                f"{self.profile_command()}; then reload: LatencyPredictor.load(P, lut=LUT).",
            )
        return sums

    # --- prediction ----------------------------------------------------------------------
    def _from_sums(
        self, sums: np.ndarray, resolution: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        x = F.network_features(sums, resolution)
        point, low, high = self.fitted.predict_log_ratio(x)
        lut = F.column(sums, "lut_ms")
        return lut * np.exp(point), lut * np.exp(low), lut * np.exp(high), x

    def predict_many(self, archs: Sequence[Arch], strict: bool = False) -> np.ndarray:
        """Predicted latency (ms) of each architecture, in one vectorised model call.

        Raises:
            LutnasError: with ``strict=True`` (or without a layer estimator), when a layer is
                missing from the LUT; the message lists the keys and the profile-device command.
        """
        if not len(archs):
            return np.zeros(0)
        sums = self._archs_sums(archs, strict)
        x = F.network_features(sums, np.fromiter((a.resolution for a in archs), float, len(archs)))
        return F.column(sums, "lut_ms") * np.exp(self.fitted.predict_point(x))

    def predict(self, arch: Arch, strict: bool = False) -> float:
        """Predicted latency of one architecture in ms (see :meth:`predict_many`)."""
        return float(self.predict_many([arch], strict)[0])

    def predict_detail(
        self,
        network: Arch | Sequence[LayerSpec],
        resolution: int | None = None,
        strict: bool = False,
    ) -> Prediction:
        """Prediction with its interval, OOD flag and the share resting on estimated rows.

        Args:
            network: an :class:`Arch` or the network's layers as LayerSpecs.
            resolution: the input height, for a list of layers (default: the first layer's).
            strict: refuse missing layers instead of estimating them.
        """
        if isinstance(network, Arch):
            specs = network.layers()
            resolution = network.resolution
        else:
            specs = list(network)
            if not specs:
                raise LutnasError("a network needs at least one layer")
            resolution = resolution or specs[0].input_h
        return self._detail(specs, resolution, strict, "the network", ())

    def _detail(
        self,
        specs: Sequence[LayerSpec],
        resolution: int,
        strict: bool,
        what: str,
        measured: tuple[str, ...],
        how: str | None = None,
    ) -> Prediction:
        vec, missing = self.sums.of_specs(specs, resolution)
        missing = tuple(dict.fromkeys(missing))
        if missing and (strict or self.estimator is None):
            raise self._missing_error(
                list(missing),
                what,
                how
                or (
                    f"Measure them with: {self.profile_command()} (an Arch saved as JSON), then "
                    "reload the predictor with lut=LUT."
                ),
            )
        point, low, high, x = self._from_sums(vec[None, :], np.array([resolution]))
        reasons = self.fitted.out_of_distribution(x)[0]
        lut = float(F.column(vec[None, :], "lut_ms")[0])
        est = float(F.column(vec[None, :], "est_ms")[0])
        return Prediction(
            latency_ms=float(point[0]),
            low_ms=float(low[0]),
            high_ms=float(high[0]),
            lut_sum_ms=lut,
            estimated_share=est / lut if lut else 0.0,
            estimated_keys=missing,
            measured_keys=measured,
            out_of_distribution=bool(reasons),
            ood_reasons=tuple(reasons),
            layers=tuple(s.key for s in specs),
        )

    def predict_module(
        self,
        module,
        input_shape: Sequence[int] = (1, 3, 224, 224),
        backend=None,
        strict: bool = False,
    ) -> Prediction:
        """Predict an arbitrary torch module: traced, mapped to LayerSpecs, then predicted.

        Args:
            module: an ``nn.Module`` taking one batch-1 image tensor.
            input_shape: its input shape, ``(1, 3, H, W)``.
            backend: a :class:`profiler.base.Backend` with this predictor's configuration;
                missing rows are measured on it (and added to the predictor's LUT file when
                it is reachable) instead of estimated.
            strict: refuse missing rows (when no backend measures them).

        Raises:
            LutnasError: a part of the module maps to no LayerSpec (named in the message), the
                backend has another configuration, or strict refusal of missing rows.
        """
        from predictor.decompose import decompose_module

        decomposition = decompose_module(module, tuple(input_shape))
        specs = decomposition.specs
        measured: tuple[str, ...] = ()
        if backend is not None:
            measured = self.measure_missing(specs, backend)
        name = type(module).__name__
        how = (
            "Measure them with predict_module(module, input_shape, backend=get_backend("
            f"{self.backend_config.get('backend', 'onnxruntime')!r}, threads="
            f"{self.backend_config.get('threads', 1)})) or: lutnas predict --predictor P "
            "--torchvision NAME --measure-missing."
        )
        return self._detail(specs, int(input_shape[-2]), strict, f"module {name}", measured, how)

    def measure_missing(self, specs: Iterable[LayerSpec], backend) -> tuple[str, ...]:
        """Measure the rows of ``specs`` missing from the LUT on ``backend`` (with the LUT's
        warm-up/runs), add them to the predictor and, when reachable, to its LUT file.

        Raises:
            LutnasError: the backend's configuration is not the LUT's.
        """
        todo = list({s.key: s for s in specs if s.key not in self.lut_rows}.values())
        if not todo:
            return ()
        measured: dict[str, float] = {}
        try:
            self._measure(todo, backend, measured)
        finally:  # what was measured before an error is kept
            self.sums.add_rows(measured)
        return tuple(measured)

    def _measure(self, todo: list[LayerSpec], backend, measured: dict[str, float]) -> None:
        from profiler.loop import ProfileSettings, layer_workload, measure_steady

        with backend:
            if backend.config() != self.backend_config:
                raise LutnasError(
                    "the backend given has another configuration than the predictor's LUT ("
                    f"{_diff(self.backend_config, backend.config())}); measure with "
                    "get_backend(name, threads=...) matching the LUT"
                )
            lut_settings = self.meta["lut"]["settings"]
            settings = ProfileSettings.from_identity(lut_settings)
            store = None
            if self._store_path and Path(self._store_path).is_file():
                store = LutStore.create_or_resume(
                    self._store_path, self.backend_config, backend.device_info(), lut_settings
                )
            try:
                for spec in todo:
                    m, attempts = measure_steady(backend, layer_workload(spec), settings)
                    measured[spec.key] = m.median_ms
                    if store is not None:
                        store.put_layer(spec, m, attempts)
            finally:
                if store is not None:
                    store.close()

    def lut_sum_ms(self, network: Arch | Sequence[LayerSpec]) -> float:
        """The plain LUT sum (estimated rows included) of a network."""
        specs = network.layers() if isinstance(network, Arch) else list(network)
        vec, _ = self.sums.of_specs(specs, specs[0].input_h)
        return float(F.column(vec[None, :], "lut_ms")[0])

    def __repr__(self) -> str:
        t = self.meta["training"]
        return (
            f"LatencyPredictor({t['measurements']} measurements, "
            f"{self.meta['lut']['backend_config'].get('backend')} "
            f"threads={self.meta['lut']['backend_config'].get('threads')}, "
            f"cv within ±10%: {100 * t['cv']['within_10']:.1f}%)"
        )
