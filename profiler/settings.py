"""How carefully the profiling loop measures (:class:`ProfileSettings`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ProfileSettings:
    """How carefully to measure. ``warmup`` and ``runs`` are part of a LUT's identity."""

    warmup: int = 10  # untimed runs per measurement (nn-Meter uses 10)
    runs: int = 50  # timed runs per measurement (nn-Meter and TFLite use 50)
    # Re-measure a row while the 95 % confidence interval of its median is wider than
    # +/- ci_tolerance of the median (None: never on this ground) ...
    ci_tolerance: float | None = 0.05
    cv_threshold: float | None = None  # ... or its robust CV is above this (the rule until 2026-12)
    max_attempts: int = 3  # at most this many measurements per row, keeping the steadiest
    reference_every: int = 50  # re-time the reference layer after this many rows (0: never)
    drift_threshold: float = 0.10  # report drift when the reference moves more than this
    seed: int = 0  # shuffles the order, spreading drift across op kinds
    max_consecutive_failures: int = 5  # stop when this many rows in a row fail
    drift_correction: bool = True  # whole models: take turns with a reference, rescale (host)
    export_workers: int | None = None  # processes making model files ahead (None: 1 per spare
    # core, 0: none); changes how fast, never what is timed or how

    def identity(self) -> dict:
        """The settings that change the numbers; a resumed LUT must have the same."""
        return {"warmup": self.warmup, "runs": self.runs, "drift_correction": self.drift_correction}

    @classmethod
    def from_identity(cls, identity: dict) -> ProfileSettings:
        """The settings a LUT was measured with (files from before drift correction: off)."""
        return cls(
            warmup=int(identity.get("warmup", cls.warmup)),
            runs=int(identity.get("runs", cls.runs)),
            drift_correction=bool(identity.get("drift_correction", False)),
        )
