"""What the search needs of a latency predictor (:class:`LatencyModel`), the identity a
search record binds it by, and the checks that refuse a predictor unfit for a search: another
search space, or a target T outside the latencies it was fitted on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.space import Space

log = logging.getLogger(__name__)


class LatencyModel(Protocol):
    """What the search needs from a predictor (``predictor.LatencyPredictor`` is one): latency
    predictions, and read-only facts that identify it in a record and check a search against
    what it was fitted on."""

    @property
    def fingerprint(self) -> str:
        """A stable identity of the model (a search record refuses another one on resume)."""
        ...

    @property
    def backend_config(self) -> dict:
        """The backend configuration of the LUT its latencies are for."""
        ...

    @property
    def lut_settings(self) -> dict:
        """The LUT's measurement settings (warm-up, runs), for verifying on the device."""
        ...

    @property
    def drift_reference(self) -> dict | None:
        """The LUT's drift reference calibration, for verifying on the host, if any."""
        ...

    @property
    def training_spaces(self) -> tuple[str, ...]:
        """Search spaces it was fitted on (empty: not recorded)."""
        ...

    @property
    def training_resolutions(self) -> tuple[int, ...]:
        """Input resolutions it was fitted on (empty: not recorded)."""
        ...

    @property
    def latency_range_ms(self) -> tuple[float, float] | None:
        """(min, max) latency of the whole models it was fitted on (None: not recorded)."""
        ...

    def predict_many(self, archs: Sequence[Arch]) -> np.ndarray:
        """Predicted latency in ms of each architecture, in order."""
        ...


# --- identity and compatibility -----------------------------------------------------------------


def predictor_identity(predictor: LatencyModel) -> dict:
    """What identifies a predictor in a search record: its fingerprint (a digest of its model
    files, or of its point model when fitted in memory), its backend config and training
    latency range."""
    rng = predictor.latency_range_ms
    return {
        "digest": predictor.fingerprint,
        "backend_config": predictor.backend_config,
        "latency_range_ms": list(rng) if rng is not None else None,
    }


def check_predictor(predictor: LatencyModel, space: Space, target_ms: float) -> None:
    """Refuse a predictor fitted on another space, and a T outside its latency range.

    A predictor that does not record its spaces or its latency range is not refused (a warning
    is logged).

    Raises:
        LutnasError: the predictor's training spaces exclude ``space``, or ``target_ms`` lies
            outside the whole-model latencies it was fitted on.
    """
    spaces = predictor.training_spaces
    if not spaces:
        log.warning("the predictor does not record its search space; assuming %r", space.name)
    elif space.name not in spaces:
        raise LutnasError(
            f"the predictor was fitted on architectures of space(s) {', '.join(spaces)}, not "
            f"{space.name!r}; its predictions do not hold here. Fit one on {space.name} "
            f"models: profile-device --space {space.name} --whole-models 300 --out LUT, then "
            "lutnas fit --lut LUT --out P"
        )
    else:
        seen = predictor.training_resolutions or space.resolutions
        missing = sorted(set(space.resolutions) - set(seen))
        if missing:
            log.warning(
                "the predictor saw no whole model at resolution(s) %s, which the "
                "space searches; predictions there extrapolate",
                missing,
            )
    rng = predictor.latency_range_ms
    if rng is None:
        log.warning(
            "the predictor does not record its training latency range; T=%.3g ms is "
            "not checked against it",
            target_ms,
        )
        return
    low, high = rng
    if not low <= target_ms <= high:
        raise LutnasError(
            f"target T={target_ms:g} ms lies outside the latencies the predictor was fitted on "
            f"({low:.3f}-{high:.3f} ms on {_backend_label(predictor.backend_config)}): its "
            "predictions near T would be extrapolations. Choose T in that range (T is for the "
            "LUT's device and backend), or measure whole models around T and refit "
            "(profile-device --whole-models N, lutnas fit)"
        )


def _backend_label(cfg: dict) -> str:
    return f"{cfg.get('backend', '?')} threads={cfg.get('threads', '?')} {cfg.get('device', '')}"
