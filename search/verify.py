"""``--verify K``: measure the top K architectures on the LUT's own backend configuration and
compare with the predicted latency.

The measurement is the one ``profile-device --whole-models`` makes (the whole network built
from its ``Arch``, batch 1, the LUT's warm-up and runs, re-measured while noisy), so the
comparison is the predictor's error on these networks. Host backends (``onnxruntime``,
``torch``, ``litert``) are re-created from the LUT's config. A phone LUT (``adb``) is verified on
the phone given by ``phone`` options (the runner binary, and the serial where several phones are
attached), with the LUT's threads and core mask; another phone, or a runner of another kind, is
refused, before the search starts (:func:`check_phone`), and another version of the runner is
warned about. Without a runner the top K are written to a JSON file and the message says how to
time them.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.io import save_archs
from profiler.base import HOST_BACKENDS, get_backend, host_backend
from profiler.precision import DEFAULT_DELEGATE, precision_of
from search.record import HistoryRow

log = logging.getLogger(__name__)

# a phone's config values that must match the LUT's: another phone or runner is another device
_PHONE_IDENTITY = ("device", "device_serial", "runner", "threads")
_RUNNER_VERSION = "runner_version"


@dataclass(frozen=True, kw_only=True)
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


def phone_backend(backend_config: dict, phone: dict):
    """An adb backend configured like the phone LUT's ``backend_config`` (not entered).

    Args:
        phone: ``runner`` (local path of the benchmark binary, required), optionally ``serial``
            and ``cpu_mask`` (default: the LUT's mask).
    """
    from profiler.adb.runners import named_or_guessed
    from profiler.export import onnx_exporter_of

    by_name = named_or_guessed(None, phone["runner"])  # else the binary's --help decides
    return get_backend(
        "adb",
        serial=phone.get("serial"),
        runner=phone["runner"],
        runner_kind=by_name.name if by_name else None,
        cpu_mask=phone.get("cpu_mask") or backend_config.get("cpu_mask") or None,
        threads=int(backend_config.get("threads", 1)),
        precision=precision_of(backend_config),
        delegate=backend_config.get("delegate") or DEFAULT_DELEGATE,
        exporter=onnx_exporter_of(backend_config),
    )


def _check_same_phone(expected: dict, actual: dict) -> None:
    diffs = [d for d in config_mismatch(expected, actual) if d.split(":")[0] in _PHONE_IDENTITY]
    if diffs:
        runner = any(d.startswith("runner:") for d in diffs)
        raise LutnasError(
            "this is not the phone and runner the LUT was measured with ("
            + "; ".join(diffs)
            + "); "
            + (
                f"pass the {expected.get('runner')} binary the LUT was measured with as --runner"
                if runner
                else "attach that phone and pass its adb serial with --serial"
            )
        )
    if expected.get(_RUNNER_VERSION) and expected.get(_RUNNER_VERSION) != actual.get(
        _RUNNER_VERSION
    ):
        log.warning(
            "the runner reports version %s, the LUT was measured with %s: another release may "
            "time differently, so the comparison is only indicative",
            actual.get(_RUNNER_VERSION),
            expected.get(_RUNNER_VERSION),
        )


def check_phone(backend_config: dict, phone: dict) -> None:
    """Before a search whose top K will be verified on a phone: attach it, push the runner,
    read its identity and refuse another phone or a runner of another kind now, not after the
    search.

    Raises:
        LutnasError: another phone, another runner kind, or no phone reachable.
    """
    from profiler.adb.runners import named_or_guessed

    by_name = named_or_guessed(None, phone["runner"])
    if by_name and backend_config.get("runner") not in (None, by_name.name):
        raise LutnasError(
            f"--runner {phone['runner']} is {by_name.name} by its name; the LUT was measured "
            f"with {backend_config['runner']}: pass that binary as --runner"
        )
    with phone_backend(backend_config, phone) as backend:
        _check_same_phone(backend_config, backend.config())


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
    phone: dict | None = None,
) -> list[VerifyRow]:
    """Measure the first ``k`` of ``candidates`` (best first) on ``backend_config``.

    Args:
        candidates: ranked distinct candidates (see :func:`search.outputs.ranked`).
        k: how many to measure.
        backend_config: the LUT's backend config (``LatencyPredictor.backend_config``).
        lut_settings: the LUT's settings (``warmup``, ``runs``).
        out_dir: where ``verify_archs.json`` is written when the LUT's device cannot be
            reached (a phone LUT without ``phone`` options).
        drift_reference: the LUT's calibrated reference (``meta.drift_reference``); when its
            settings have drift correction on, the archs are timed in turns with the same
            reference and rescaled like the LUT's whole models, so they compare with predictions.
        phone: for a phone LUT, the options of :func:`phone_backend` (``runner``, ``serial``).

    Raises:
        LutnasError: the backend cannot be re-created here (a phone LUT without ``phone``
            options): the message names the JSON file of the top K and the option that measures
            them; another phone or runner than the LUT's; a measurement failed.
    """
    from profiler.loop import ProfileSettings, measure_steady
    from profiler.reference import stored_reference
    from profiler.workloads import arch_workload

    top = list(candidates)[:k]
    archs = [Arch.from_json(r.arch_json) for r in top]
    on_phone = backend_config.get("backend") == "adb" and bool(phone and phone.get("runner"))
    if backend_config.get("backend") not in HOST_BACKENDS and not on_phone:  # a phone, no runner
        path = Path(out_dir or ".") / "verify_archs.json"
        save_archs(path, archs)
        how = (
            "To time them on the phone, attach it and pass --runner PATH (the benchmark binary "
            "the LUT was measured with; --serial SERIAL where several phones are attached)."
            if backend_config.get("backend") == "adb"
            else "Time them on that device as whole models."
        )
        raise LutnasError(
            f"the predictor's LUT was measured with {backend_config.get('backend')!r}, which "
            f"--verify cannot re-create here; the top {len(archs)} architectures are in {path}. "
            + how
        )
    settings = ProfileSettings.from_identity(lut_settings)
    reference = stored_reference(drift_reference) if settings.drift_correction else None
    if settings.drift_correction and reference is None:
        log.warning("the LUT has no calibrated whole-model reference; timing without correction")
    rows = []
    backend = (
        phone_backend(backend_config, phone)
        if on_phone
        else host_backend(backend_config, "--verify")
    )
    with backend:
        diffs = config_mismatch(backend_config, backend.config())
        if on_phone:
            _check_same_phone(backend_config, backend.config())
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
                    rank=rank,
                    arch_key=row.arch_key,
                    reward=row.reward,
                    predicted_ms=row.latency_ms,
                    measured_ms=m.median_ms,
                    p10_ms=m.p10_ms,
                    p90_ms=m.p90_ms,
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
