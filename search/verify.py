"""``--verify K``: measure the top K architectures on the LUT's own backend configuration and
compare with the predicted latency.

The measurement is the one ``profile-device --whole-models`` makes (the whole network built
from its ``Arch``, batch 1, the LUT's warm-up and runs, re-measured while noisy), so the
comparison is the predictor's error on these networks. Only host backends (``onnxruntime``,
``torch``) can be re-created from a LUT's config; for a phone LUT the top K are written to a
JSON file and the message gives the ``profile-device`` command that measures them.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lutnas.errors import LutnasError
from search.arch import Arch
from search.io import save_archs
from search.record import HistoryRow

log = logging.getLogger(__name__)

HOST_BACKENDS = ("onnxruntime", "torch")


@dataclass(frozen=True)
class VerifyRow:
    """One verified architecture; times in ms, ``error_pct`` = (predicted/measured − 1)·100."""

    rank: int
    arch_key: str
    reward: float
    predicted_ms: float
    measured_ms: float
    p10_ms: float | None
    p90_ms: float | None

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.predicted_ms / self.measured_ms - 1.0)


def host_backend(backend_config: dict):
    """A host backend configured like ``backend_config`` (not entered).

    Raises:
        LutnasError: the config is not a host backend's.
    """
    from profiler.base import get_backend

    name = backend_config.get("backend")
    if name not in HOST_BACKENDS:
        raise LutnasError(
            f"--verify measures on host backends ({', '.join(HOST_BACKENDS)}); "
            f"the predictor's LUT was measured with {name!r}"
        )
    options: dict = {"threads": int(backend_config.get("threads", 1))}
    if name == "onnxruntime" and "graph_optimization" in backend_config:
        options["optimization"] = backend_config["graph_optimization"]
    return get_backend(name, **options)


def config_mismatch(expected: dict, actual: dict) -> list[str]:
    """``key: LUT X, here Y`` for every config value that differs."""
    return [
        f"{k}: LUT {expected.get(k)!r}, here {actual.get(k)!r}"
        for k in sorted(set(expected) | set(actual))
        if expected.get(k) != actual.get(k)
    ]


def verify_top(
    candidates: Sequence[HistoryRow],
    k: int,
    backend_config: dict,
    lut_settings: dict,
    out_dir: str | Path | None = None,
    drift_reference: dict | None = None,
) -> list[VerifyRow]:
    """Measure the first ``k`` of ``candidates`` (best first) on ``backend_config``.

    Args:
        candidates: ranked distinct candidates (see :func:`search.outputs.ranked`).
        k: how many to measure.
        backend_config: the LUT's backend config (``LatencyPredictor.backend_config``).
        lut_settings: the LUT's settings (``warmup``, ``runs``).
        out_dir: where ``verify_archs.json`` is written when the backend is not a host one.
        drift_reference: the LUT's calibrated reference (``meta.drift_reference``); when its
            settings have drift correction on, the archs are timed in turns with the same
            reference and rescaled like the LUT's whole models, so they compare with predictions.

    Raises:
        LutnasError: the backend cannot be re-created here (phone LUT): the message names the
            JSON file of the top K and the command that measures them; a measurement failed.
    """
    from profiler.loop import ProfileSettings, measure_steady
    from profiler.reference import stored_reference
    from profiler.workloads import arch_workload

    top = list(candidates)[:k]
    archs = [Arch.from_json(r.arch_json) for r in top]
    if backend_config.get("backend") not in HOST_BACKENDS:
        path = Path(out_dir or ".") / "verify_archs.json"
        save_archs(path, archs)
        raise LutnasError(
            f"the predictor's LUT was measured with {backend_config.get('backend')!r}, which "
            f"--verify cannot re-create here; the top {len(archs)} architectures are in {path}. "
            "Time them on that device as whole models, e.g. in Python: "
            "profiler.loop.profile_models(get_backend(...), LutStore.create_or_resume(...), "
            f"search.io.load_archs({str(path)!r}), settings)"
        )
    settings = ProfileSettings.from_identity(lut_settings)
    reference = stored_reference(drift_reference) if settings.drift_correction else None
    if settings.drift_correction and reference is None:
        log.warning("the LUT has no calibrated whole-model reference; timing without correction")
    rows = []
    with host_backend(backend_config) as backend:
        diffs = config_mismatch(backend_config, backend.config())
        if diffs:
            log.warning(
                "this host differs from the LUT's backend configuration (%s); the "
                "measured latencies are only indicative",
                "; ".join(diffs),
            )
        for rank, (row, arch) in enumerate(zip(top, archs, strict=True)):
            m, _ = measure_steady(backend, arch_workload(arch), settings, reference)
            rows.append(
                VerifyRow(
                    rank, row.arch_key, row.reward, row.latency_ms, m.median_ms, m.p10_ms, m.p90_ms
                )
            )
    return rows


def format_table(rows: Sequence[VerifyRow], target_ms: float) -> str:
    """A text table of predicted vs measured latency, with the median absolute error."""
    lines = [
        f"{'rank':>4} {'reward':>8} {'predicted ms':>13} {'measured ms':>12} "
        f"{'error':>8}  vs T={target_ms:g} ms  arch"
    ]
    for r in rows:
        side = "under" if r.measured_ms <= target_ms else "over"
        lines.append(
            f"{r.rank:>4} {r.reward:>8.4f} {r.predicted_ms:>13.3f} "
            f"{r.measured_ms:>12.3f} {r.error_pct:>+7.1f}%  {side:<16}  {r.arch_key}"
        )
    if rows:
        errors = [abs(r.error_pct) for r in rows]
        lines.append(
            f"median |error| {statistics.median(errors):.1f}% over {len(rows)} "
            f"architectures; {sum(e <= 10 for e in errors)} within ±10%"
        )
    return "\n".join(lines)
