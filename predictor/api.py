"""``LatencyPredictor``: whole-network latency from a LUT, corrected by a learned model.

    from predictor import LatencyPredictor
    p = LatencyPredictor.fit("host.lut")           # the LUT's whole-model rows are the data
    p.save("host.predictor")
    p = LatencyPredictor.load("host.predictor")    # self-contained: carries its LUT rows
    p.predict(arch)                                # ms
    p.predict_many(archs)                          # numpy array, one XGBoost call
    p.predict_detail(arch)                         # interval, OOD flag, estimated share
    p.predict_module(torchvision.models.mobilenet_v2(), (1, 3, 224, 224))

A prediction is ``lut_sum × exp(correction)``. Rows a LUT holds as *transferred* from another
device (:mod:`lut.transferred`) are used like measured ones, and every detailed prediction
says how much of its sum rests on them. Layers missing from the LUT are estimated by
the per-kind layer estimator (reported in :class:`Prediction`), measured on demand when a
backend is given to :meth:`LatencyPredictor.predict_module`, or refused with ``strict=True``.
An unknown layer never counts as zero.

This module is the facade: fitting is :mod:`predictor.fit`, the files
:mod:`predictor.persistence`, predicting :mod:`predictor.prediction`, what it was fitted on
:mod:`predictor.identity`, and measuring missing rows :mod:`profiler.on_demand`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.stored import adopt_definitions
from predictor import features as F
from predictor import persistence
from predictor.fit import fit_predictor, matching_lut_rows
from predictor.identity import PredictorIdentity
from predictor.layer_estimator import LayerEstimator
from predictor.model import Fitted
from predictor.prediction import Prediction, predict_archs, predict_networks, predict_specs
from predictor.sums import NetworkSums

__all__ = ["LatencyPredictor", "Prediction"]


class LatencyPredictor(PredictorIdentity):
    """Predicts whole-network latency on the device and backend of one LUT.

    Build with :meth:`fit` or :meth:`load`; the constructor is internal. The identity members
    (:attr:`fingerprint`, :attr:`backend_config`, :attr:`lut_settings`,
    :attr:`drift_reference`, :attr:`training_spaces`, :attr:`training_resolutions`,
    :attr:`latency_range_ms`) are read-only views of the metadata record :attr:`meta`
    (:class:`~predictor.identity.PredictorIdentity`).
    """

    def __init__(
        self,
        fitted: Fitted,
        estimator: LayerEstimator | None,
        lut_rows: dict[str, float],
        meta: dict,
        store_path: str | None = None,
        transferred: frozenset[str] = frozenset(),
    ) -> None:
        self.fitted = fitted
        self.meta = meta
        self.sums = NetworkSums(lut_rows, estimator, transferred)
        self._store_path = store_path
        self._fingerprint: str | None = None

    @property
    def lut_path(self) -> str | None:
        """The LUT file rows measured on demand are added to (when it exists), or None."""
        return self._store_path

    @property
    def estimator(self) -> LayerEstimator | None:
        """The per-kind estimator of rows missing from the LUT (None: missing rows refused)."""
        return self.sums.estimator

    @property
    def lut_rows(self) -> dict[str, float]:
        """The LUT rows predictions use: layer key → median ms."""
        return self.sums.rows

    @property
    def transferred_keys(self) -> frozenset[str]:
        """Keys of :attr:`lut_rows` transferred from another device's LUT, not measured."""
        return self.sums.transferred

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        lut: LutStore | str | Path,
        measurements: object = None,
        *,
        seed: int = 0,
        estimate_missing: bool = True,
        networks: Sequence[str] | None = None,
    ) -> LatencyPredictor:
        """Fit on a LUT and whole-model measurements made with the same backend configuration.

        Args:
            lut: a :class:`LutStore` or the path of a LUT file.
            measurements: a frame like ``LutStore.models_frame()`` (``arch_json``,
                ``median_ms``) or ``(Arch, latency_ms)`` pairs; default: the LUT's own
                whole-model rows.
            seed: seeds cross-validation folds and XGBoost.
            estimate_missing: also fit the layer estimator (needs at least 30 LUT rows).
            networks: torchvision networks timed into the LUT (``profile-device
                --whole-models-include``) to fit on as well, by name (``resnet18`` or
                ``resnet18@224``); default: all of them when ``measurements`` is the LUT's
                own, none otherwise; ``()``: none.

        Raises:
            LutnasError: too few usable measurements (architectures whose every layer is in the
                LUT), a named network the LUT has not timed, or an unreadable LUT.
        """
        r = fit_predictor(
            lut, measurements, seed=seed, estimate_missing=estimate_missing, networks=networks
        )
        return cls(r.fitted, r.estimator, r.lut_rows, r.meta, r.store_path, r.transferred)

    def save(self, path: str | Path) -> Path:
        """Write the predictor directory (see :mod:`predictor.persistence`)."""
        return persistence.save(
            path, self.meta, self.fitted, self.lut_rows, self.estimator, self.transferred_keys
        )

    @classmethod
    def load(cls, path: str | Path, lut: LutStore | str | Path | None = None) -> LatencyPredictor:
        """Load a saved predictor; with ``lut``, also use that LUT's rows (it must have been
        measured with the same backend configuration and settings as the predictor's).

        Raises:
            LutnasError: not a predictor, damaged files, or a LUT from another device/backend.
        """
        stored = persistence.load(path)
        adopt_definitions(
            stored.meta.get("training", {}).get("space_definitions"), f"predictor {path}"
        )
        rows, store_path = stored.lut_rows, stored.meta["lut"]["path"]
        transferred = stored.transferred
        if lut is not None:
            theirs, moved, store_path = matching_lut_rows(lut, stored.meta, path)
            rows.update(theirs)
            transferred = (transferred - set(theirs)) | moved
        if "calibration" in stored.meta and not issubclass(cls, _calibrated_class()):
            cls = _calibrated_class()  # a predictor calibrated to another device
        return cls(stored.fitted, stored.estimator, rows, stored.meta, store_path, transferred)

    def add_rows_gained(self, lut: LutStore | str | Path | None = None) -> tuple[str, ...]:
        """Use the rows a LUT holds and this predictor lacks: by default those measured into
        the LUT it was fitted on (:attr:`lut_path`) after the fit, by ``lutnas predict
        --measure-missing`` or ``profile-device``. Rows the predictor holds keep the values it
        was fitted with. Returns the keys added; none when that file is not on this machine.

        Raises:
            LutnasError: the LUT was measured with another device, backend or settings.
        """
        if lut is None:
            if self._store_path is None or not Path(self._store_path).is_file():
                return ()
            lut = self._store_path
        store, opened = (lut, False) if isinstance(lut, LutStore) else (None, True)
        if store is None:
            store = LutStore.open(lut, writable=False)
        try:
            theirs, moved, _ = matching_lut_rows(store, self.meta, "being loaded")
        finally:
            if opened:
                store.close()
        gained = {k: v for k, v in theirs.items() if k not in self.lut_rows}
        self.sums.add_rows(gained)
        if moved & gained.keys():  # rows transferred into the LUT stay marked as transferred
            self.sums.transferred |= moved & gained.keys()
            self.sums.clear()
        return tuple(gained)

    def calibrate(
        self,
        measurements: Sequence,
        device: str,
        sources: Sequence[str] | None = None,
        precision: str | None = None,
        delegate: str | None = None,
    ) -> LatencyPredictor:
        """This predictor moved to another device with a few whole-model measurements there.

        Args:
            measurements: ``(network, latency_ms)`` pairs, the network an :class:`Arch`, a
                named architecture or a torchvision model name (``(name, resolution, ms)`` for
                another resolution than 224), or ``(module, input_shape, latency_ms)``; each
                network once.
            device: the target device's name, recorded in the predictor.
            sources: where each measurement came from (``pixel7.csv:4``), named in errors.
            precision, delegate: what the measurements were made in (default: this
                predictor's); another precision is allowed, with a caveat.

        Returns:
            A predictor for the target (see :mod:`predictor.calibrated`); save it like any.
        """
        from predictor.calibrated import calibrate

        return calibrate(
            self, measurements, device, sources=sources, precision=precision, delegate=delegate
        )

    # --- prediction --------------------------------------------------------------------------
    def predict_many(self, archs: Sequence[Arch], strict: bool = False) -> np.ndarray:
        """Predicted latency (ms) of each architecture, in one vectorised model call.

        Raises:
            LutnasError: with ``strict=True`` (or without a layer estimator), when a layer is
                missing from the LUT; the message lists the keys and the profile-device command.
        """
        return predict_archs(self.fitted, self.sums, archs, strict=strict, how=self._how_archs)

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
        specs, own = _layers_and_resolution(network)
        resolution = own if isinstance(network, Arch) else resolution or own
        return predict_specs(
            self.fitted,
            self.sums,
            specs,
            resolution,
            strict=strict,
            what="the network",
            how=self._how_network,
        )

    def predict_details(
        self, networks: Sequence[Arch | Sequence[LayerSpec]], strict: bool = False
    ) -> list[Prediction]:
        """:meth:`predict_detail` of many networks in one vectorised model call (thousands a
        second): each an :class:`Arch` or its layers as LayerSpecs (at the first layer's
        input height).

        Raises:
            LutnasError: a network without layers, or with ``strict``, a layer missing from
                the LUT (every missing key is listed).
        """
        return predict_networks(
            self.fitted,
            self.sums,
            [_layers_and_resolution(n) for n in networks],
            strict=strict,
            what="the network" if len(networks) == 1 else f"{len(networks)} networks",
            how=self._how_network,
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

        specs = decompose_module(module, tuple(input_shape)).specs
        measured = self.measure_missing(specs, backend) if backend is not None else ()
        return predict_specs(
            self.fitted,
            self.sums,
            specs,
            int(input_shape[-2]),
            strict=strict,
            what=f"module {type(module).__name__}",
            how=self._how_module,
            measured=measured,
        )

    def measure_missing(self, specs: Iterable[LayerSpec], backend) -> tuple[str, ...]:
        """Measure the rows of ``specs`` missing from the LUT on ``backend`` (with the LUT's
        warm-up/runs), add them to the predictor and, when reachable, to its LUT file.

        Raises:
            LutnasError: the backend's configuration is not the LUT's.
        """
        from profiler.on_demand import measure_rows

        todo = list({s.key: s for s in specs if s.key not in self.lut_rows}.values())
        if not todo:
            return ()
        measured: dict[str, float] = {}
        try:
            measure_rows(
                backend,
                todo,
                backend_config=self.backend_config,
                lut_settings=self.lut_settings,
                lut_path=self._store_path,
                put=measured.__setitem__,
            )
        finally:  # what was measured before an error is kept
            self.sums.add_rows(measured)
        return tuple(measured)

    def lut_sum_ms(self, network: Arch | Sequence[LayerSpec]) -> float:
        """The plain LUT sum (estimated rows included) of a network."""
        specs = network.layers() if isinstance(network, Arch) else list(network)
        vec, _ = self.sums.of_specs(specs, specs[0].input_h)
        return float(F.column(vec[None, :], "lut_ms")[0])


def _layers_and_resolution(network: Arch | Sequence[LayerSpec]) -> tuple[list[LayerSpec], int]:
    if isinstance(network, Arch):
        return network.layers(), network.resolution
    specs = list(network)
    if not specs:
        raise LutnasError("a network needs at least one layer")
    return specs, specs[0].input_h


def _calibrated_class() -> type[LatencyPredictor]:
    from predictor.calibrated import CalibratedPredictor  # it subclasses this module's class

    return CalibratedPredictor
