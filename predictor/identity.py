"""What a :class:`~predictor.api.LatencyPredictor` was fitted on, read from its metadata record:
the identity a search records and checks (fingerprint, backend configuration, LUT settings, what
it was trained on), and the commands its errors advise for measuring rows it lacks.
"""

from __future__ import annotations

import hashlib
import json

from lut.identity import with_identity_defaults
from lutnas.cli_util import quote
from predictor.model import Fitted


class PredictorIdentity:
    """Read-only views of a predictor's metadata record :attr:`meta` (the base of
    :class:`~predictor.api.LatencyPredictor`, which sets the attributes below)."""

    meta: dict
    fitted: Fitted
    _store_path: str | None
    _fingerprint: str | None

    # --- identity (read-only; what a search records and checks) ------------------------------
    @property
    def fingerprint(self) -> str:
        """A stable identity: 16 hex digits of the SHA-256 of the model files' hashes (a saved
        predictor) or of the point model (one fitted in memory); computed once."""
        if self._fingerprint is None:
            files = self.meta.get("files")
            if files:
                data = json.dumps(files, sort_keys=True).encode()
            else:
                data = bytes(self.fitted.point.save_raw("ubj"))
            self._fingerprint = hashlib.sha256(data).hexdigest()[:16]
        return self._fingerprint

    @property
    def backend_config(self) -> dict:
        """The LUT's backend configuration (backend, version, threads, device, precision,
        ...); identity fields an older predictor lacks carry their defaults."""
        return with_identity_defaults(self.meta["lut"]["backend_config"])

    @property
    def lut_settings(self) -> dict:
        """The LUT's measurement settings (warm-up, runs, drift correction)."""
        return self.meta["lut"].get("settings", {})

    @property
    def drift_reference(self) -> dict | None:
        """The LUT's drift reference calibration, if it has one."""
        return self.meta["lut"].get("drift_reference")

    @property
    def training_spaces(self) -> tuple[str, ...]:
        """Search spaces of the whole models fitted on (empty when not recorded)."""
        return tuple(self.meta.get("training", {}).get("spaces") or ())

    @property
    def training_networks(self) -> tuple[str, ...]:
        """torchvision networks (``name@resolution``) among the whole models fitted on."""
        return tuple(self.meta.get("training", {}).get("networks") or ())

    @property
    def training_resolutions(self) -> tuple[int, ...]:
        """Input resolutions of the whole models fitted on (empty when not recorded)."""
        return tuple(self.meta.get("training", {}).get("resolutions") or ())

    @property
    def latency_range_ms(self) -> tuple[float, float] | None:
        """(min, max) latency of the whole models fitted on, if recorded."""
        rng = self.meta.get("training", {}).get("latency_range_ms")
        if not rng or len(rng) != 2:
            return None
        return float(rng[0]), float(rng[1])

    def profile_command(self, what: str = "--archs ARCHS.json") -> str:
        """The profile-device command that measures rows for this predictor's LUT."""
        cfg, settings = self.backend_config, self.lut_settings
        return (
            f"profile-device --backend {cfg.get('backend', 'onnxruntime')} "
            f"--threads {cfg.get('threads', 1)} --warmup {settings.get('warmup')} "
            f"--runs {settings.get('runs')} "
            + ("--no-drift-correction " if settings.get("drift_correction") is False else "")
            + f"--out {quote(self._store_path) if self._store_path else 'LUT'} {what}"
        )

    # --- advice in missing-row errors ----------------------------------------------------------
    def _how_archs(self) -> str:
        return (
            "Save the architectures (lutnas.spaces.io.save_archs) and measure them with: "
            f"{self.profile_command()}; then reload: LatencyPredictor.load(P, lut=LUT)."
        )

    def _how_network(self) -> str:
        return (
            f"Measure them with: {self.profile_command()} (an Arch saved as JSON), then "
            "reload the predictor with lut=LUT."
        )

    def _how_module(self) -> str:
        cfg = self.backend_config
        return (
            "Measure them with predict_module(module, input_shape, backend=get_backend("
            f"{cfg.get('backend', 'onnxruntime')!r}, threads={cfg.get('threads', 1)})) or: "
            "lutnas predict --predictor P --torchvision NAME --measure-missing."
        )

    def __repr__(self) -> str:
        t, cfg = self.meta["training"], self.backend_config
        return (
            f"LatencyPredictor({t['measurements']} measurements, {cfg.get('backend')} "
            f"threads={cfg.get('threads')}, cv within ±10%: {100 * t['cv']['within_10']:.1f}%)"
        )
