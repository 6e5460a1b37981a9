"""Is a LUT fit for use? Noise, drift and re-measurement figures, a short verdict, and the one
command that remedies each finding.

One place for the judgement that ``profile-device`` prints at its end, ``lutnas lut show`` prints
under its counts and ``lutnas fit`` prints under its cross-validation. Pure functions of a LUT's
layers table (``LutStore.layers_frame()``) and its meta (``LutStore.meta``).

Why these thresholds (DESIGN.md, "Measuring latency"):

- Noise is each row's *robust* CV, ``(p90 - p10) / (2 · 1.2816 · median)`` (as
  :attr:`lut.measurement.Measurement.robust_cv`): the normal-equivalent spread of the p10..p90
  range, which a few outliers (a context switch, a GC pause) do not inflate; where a runner
  printed only p5/median/p95 (LiteRT's benchmark_model) the same of the p5..p95 range, and where
  it printed only mean and std (older releases) std / mean, which outliers do inflate
  (:func:`lut.measurement.noise`; the figures say which basis how many rows have).
- :data:`MEDIAN_NOISE_MAX` 9%: published phone LUTs show median CVs of 2–9% (and repeated host
  measurements here differ by ~5% run to run); a typical row noisier than every published table
  adds error of the size of the predictor's own target (±10% on whole models).
- :data:`P90_NOISE_MAX` 10%: the ``--cv-threshold`` profile-device re-measured rows above until
  2026-12 (now off by default: a row is re-measured while its median's 95% interval is wider
  than ``--ci-tolerance``); at most a tenth of the rows may stay above it. The remedy
  re-times the rows above it: ``lutnas lut retime LUT --noisier-than 0.1`` (host backends), or
  ``lutnas lut remove LUT --noisier-than 0.1`` and the same profile-device command (phones).
- :data:`DRIFT_MAX` 10%: the reference layer moving more than 10% from its timing at the start
  of a run is the drift DESIGN.md says to flag; rows timed after it are skewed.
- Whole models, drift-corrected, carry their ``drift_factor`` (the reference's calibrated
  latency over its latency beside the model). Its typical value is not 1 (timed in turns with a
  model, the reference reads slower than when it was calibrated alone: 0.885 median on an idle
  machine for LiteRT, 0.945 for ONNX Runtime), but on a steady machine it stays within a few
  percent of the table's median. A model whose factor is more than :data:`DRIFT_MAX` from that
  median was timed while the machine's speed moved, and there the correction is partial: on
  LUTs whose factors spread 0.77–1.09, such models re-timed on an idle machine were off by about
  10% more than the rest (docs/how-it-works.md). When more than :data:`MODELS_OFF_SHARE` of the
  models were, the table is ``drifting`` too.
- :data:`REMEASURED_SHARE_NOTE` 25%: informational; when a quarter of the rows needed a second
  measurement the machine was busy, even if the kept rows end up steady.
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from dataclasses import dataclass, field

from lut.measurement import noise
from profiler.base import HOST_BACKENDS

MEDIAN_NOISE_MAX = 0.09  # median robust CV of the rows
P90_NOISE_MAX = 0.10  # 90th percentile of the rows' robust CV (--cv-threshold's old default)
DRIFT_MAX = 0.10  # |reference ratio - 1| beyond which a run drifted
REMEASURED_SHARE_NOTE = 0.25  # share of rows measured more than once worth a mention
MODELS_OFF_SHARE = 0.10  # share of whole models timed off speed that makes a table drifting


@dataclass(frozen=True)
class DriftRun:
    """The drift events of one profiling run (events sharing that run's reference baseline)."""

    baseline_ms: float | None  # the reference's timing at the run's start (None: older files)
    events: int
    worst_ratio: float  # the event furthest from 1, vs the run's start
    first_rows_done: int  # rows in the file at its first event
    last_rows_done: int


@dataclass(frozen=True)
class Quality:
    """Figures and verdict of one LUT; see the module docstring for the thresholds."""

    rows: int
    rows_with_spread: int  # rows whose noise is known (percentiles, or std and mean)
    median_noise: float | None  # median robust CV of the rows, None when no row has a spread
    p90_noise: float | None
    remeasured_share: float  # rows measured more than once (attempts > 1)
    rows_above_target: int  # rows whose robust CV exceeds P90_NOISE_MAX
    drift_runs: tuple[DriftRun, ...] = field(default_factory=tuple)
    models_corrected: int = 0  # whole models with a drift factor
    models_off_speed: int = 0  # of those, with |drift factor / median - 1| > DRIFT_MAX
    model_factors: tuple[float, float, float] | None = None  # min, median and max factor
    backend: str = ""  # the LUT's backend: host backends re-time in place (lutnas lut retime)
    noise_bases: dict[str, int] = field(default_factory=dict)  # basis -> rows (see noise())
    rows_median_is_mean: int = 0  # rows whose runner printed no median: the mean stands in

    @property
    def phone(self) -> bool:
        """Measured on a phone (adb), not on this machine."""
        return self.backend == "adb"

    @property
    def noisy(self) -> bool:
        return self.p90_noise is not None and (
            self.median_noise > MEDIAN_NOISE_MAX or self.p90_noise > P90_NOISE_MAX
        )

    @property
    def models_drifted(self) -> bool:
        return self.models_off_speed > MODELS_OFF_SHARE * self.models_corrected

    @property
    def drifted(self) -> bool:
        return bool(self.drift_runs) or self.models_drifted

    @property
    def verdict(self) -> str:
        """``usable``, ``noisy``, ``drifting``, ``noisy, drifting``, ``unknown noise`` or
        ``empty``."""
        if not self.rows:
            return "empty"
        words = [w for w, bad in (("noisy", self.noisy), ("drifting", self.drifted)) if bad]
        if words:
            return ", ".join(words)
        return "usable" if self.median_noise is not None else "unknown noise"


_NOISE_INPUTS = ("median_ms", "p10_ms", "p90_ms", "p5_ms", "p95_ms", "std_ms", "mean_ms")


def row_noise(layers) -> list[tuple[float, str | None]]:
    """Each row's noise and its basis (:func:`lut.measurement.noise`; (NaN, None) where
    nothing is known). Columns a file lacks (older schemas) count as unknown."""

    def column(name: str) -> list:
        values = layers[name] if name in layers else [None] * len(layers)
        return [None if v is None or v != v else float(v) for v in values]

    return [noise(*values) for values in zip(*map(column, _NOISE_INPUTS), strict=True)]


def robust_noise(layers) -> list[float]:
    """Each row's noise (NaN where it is unknown): see :func:`row_noise`."""
    return [value for value, _ in row_noise(layers)]


def _percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default) of already sorted values."""
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def drift_runs(meta: dict) -> tuple[DriftRun, ...]:
    """The drift events in ``meta["drift_events"]`` beyond :data:`DRIFT_MAX`, grouped by run.

    Each event carries ``rows_done`` (rows in the file then) and ``ratio`` (the reference's
    timing vs its timing at that run's start); events of one run share ``baseline_ms``.
    """
    runs: dict[float | None, list[dict]] = {}
    for event in meta.get("drift_events", []):
        if abs(event["ratio"] - 1) > DRIFT_MAX:
            runs.setdefault(event.get("baseline_ms"), []).append(event)
    return tuple(
        DriftRun(
            baseline_ms=baseline,
            events=len(events),
            worst_ratio=max((e["ratio"] for e in events), key=lambda r: abs(r - 1)),
            first_rows_done=min(e["rows_done"] for e in events),
            last_rows_done=max(e["rows_done"] for e in events),
        )
        for baseline, events in runs.items()
    )


def _factors(models) -> list[tuple[str | None, float]]:
    """(arch key, drift factor) of the whole models that have one."""
    if models is None or "drift_factor" not in models:
        return []
    keys = models["arch_key"] if "arch_key" in models else [None] * len(models)
    return [
        (k, float(f))
        for k, f in zip(keys, models["drift_factor"], strict=True)
        if f is not None and not math.isnan(f)
    ]


def off_speed_keys(models) -> list[str]:
    """Arch keys of the whole models (``LutStore.models_frame()``) whose drift factor is more
    than :data:`DRIFT_MAX` from the table's median: timed while the machine's speed moved."""
    found = _factors(models)
    median = _percentile(sorted(f for _, f in found), 0.5) if found else 1.0
    return [k for k, f in found if abs(f / median - 1) > DRIFT_MAX]


def noisy_keys(layers, threshold: float) -> list[str]:
    """Keys of the layer rows (``LutStore.layers_frame()``) whose robust CV exceeds
    ``threshold`` (rows without a spread never do)."""
    cvs = robust_noise(layers)
    keys = layers["key"] if "key" in layers else layers.index
    return [k for k, n in zip(keys, cvs, strict=True) if not math.isnan(n) and n > threshold]


def assess(layers, meta: dict, models=None) -> Quality:
    """The quality figures of a LUT's layers table, meta and (optional) whole-models table."""
    per_row = row_noise(layers)
    noise = sorted(v for v, _ in per_row if not math.isnan(v))
    rows = len(layers)
    mean_as_median = layers["median_is_mean"] if "median_is_mean" in layers else []
    factors = [f for _, f in _factors(models)]
    median = _percentile(sorted(factors), 0.5) if factors else 1.0
    return Quality(
        rows=rows,
        rows_with_spread=len(noise),
        median_noise=_percentile(noise, 0.5) if noise else None,
        p90_noise=_percentile(noise, 0.9) if noise else None,
        remeasured_share=float((layers["attempts"] > 1).sum()) / rows if rows else 0.0,
        rows_above_target=sum(v > P90_NOISE_MAX for v in noise),
        drift_runs=drift_runs(meta),
        models_corrected=len(factors),
        models_off_speed=sum(abs(f / median - 1) > DRIFT_MAX for f in factors),
        model_factors=(min(factors), median, max(factors)) if factors else None,
        backend=str((meta.get("backend_config") or {}).get("backend", "")),
        noise_bases=dict(Counter(basis for _, basis in per_row if basis is not None)),
        rows_median_is_mean=sum(1 for v in mean_as_median if v == v and v),
    )


def assess_store(store) -> Quality:
    """:func:`assess` of an open ``LutStore``: its layers, meta and whole models."""
    return assess(store.layers_frame(), store.meta, store.models_frame())


def remedy(q: Quality, lut: str, runs: int | None = None) -> list[str]:
    """What to do about a table that is not ``usable``: one short item per finding, each with
    the one command that does it."""
    todo = []
    host = q.backend in HOST_BACKENDS or not q.backend
    if q.noisy:
        n, limit = q.rows_above_target, f"{P90_NOISE_MAX:g}"
        if host:
            todo.append(
                f"re-time the {n} rows noisier than {_pct(P90_NOISE_MAX)}: "
                f"lutnas lut retime {lut} --noisier-than {limit}"
            )
        else:
            todo.append(
                f"re-measure the {n} rows noisier than {_pct(P90_NOISE_MAX)}: lutnas lut remove "
                f"{lut} --noisier-than {limit}, then the same profile-device command (it resumes)"
            )
        more = f" (now {runs})" if runs else ""
        where = "phone (cool, idle, screen off)" if q.phone else "machine"
        todo.append(f"or profile on a quieter {where}, or with more --runs{more}")
    if q.drift_runs:
        todo.append(
            "the machine's speed changed while profiling (throttling or other load) and rows "
            "timed after it are skewed: profile again on an idle, cool machine"
        )
    if q.models_drifted:
        todo.append(
            f"re-time the {q.models_off_speed} whole models timed off speed, on an idle "
            f"machine: lutnas lut retime {lut}"
        )
    if q.verdict == "unknown noise":
        todo.append(
            "the runner reported no spread (no percentiles, no std), so the noise is unknown"
        )
    if q.rows_median_is_mean:
        todo.append(
            f"{q.rows_median_is_mean} rows' median is the runner's mean (it printed no median): "
            "a runner that prints median= (LiteRT's benchmark_model) or per-run times "
            "(onnxruntime_perf_test's result file) gives real medians"
        )
    return todo


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def verdict_lines(
    q: Quality, lut: str, runs: int | None = None, indent: str = "", width: int = 100
) -> list[str]:
    """The verdict with the figures behind it, then what to do, one item per line (each
    wrapped to ``width``): it fits a screen."""
    if q.verdict == "empty":
        head = "verdict: no layer rows (whole models only, e.g. to calibrate a predictor with)"
        todo = [f"calibrate: lutnas fit --lut {lut} --prior SOURCE.predictor, or profile layers"]
        todo += remedy(q, lut, runs)
    else:
        if q.median_noise is None:
            noise = "noise unknown"
        else:
            noise = f"median noise {_pct(q.median_noise)}, p90 {_pct(q.p90_noise)}"
            if q.noisy:
                noise += f" (targets ≤ {_pct(MEDIAN_NOISE_MAX)}, ≤ {_pct(P90_NOISE_MAX)})"
            if q.noise_bases.get("std/mean"):
                noise += f" ({q.noise_bases['std/mean']} rows by std/mean: no percentiles printed)"
        drift = "no drift"
        if q.drift_runs:
            worst = max((r.worst_ratio for r in q.drift_runs), key=lambda r: abs(r - 1))
            drift = f"drift in {len(q.drift_runs)} run(s), worst {worst:.2f}x"
        if q.models_drifted:
            drift += f", {q.models_off_speed} of {q.models_corrected} whole models off speed"
        head = f"verdict: {q.verdict} — {noise}, {drift}"
        todo = remedy(q, lut, runs)
    lines = _wrap(head, indent, indent + "  ", width)
    for item in todo:
        lines += _wrap(item, indent + "  - ", indent + "    ", width)
    return lines


def _wrap(text: str, first: str, rest: str, width: int = 100) -> list[str]:
    """``text`` in lines of at most ``width`` (a long path stays whole on its line)."""
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=False,
    )


def quality_lines(q: Quality, lut: str, runs: int | None = None, indent: str = "  ") -> list[str]:
    """The figures (noise, re-measured share, drift per run), then the verdict and what to do."""
    lines = []
    if q.median_noise is not None:
        bases = ", ".join(f"{n} by {b}" for b, n in sorted(q.noise_bases.items()))
        robust = "" if q.noise_bases.get("std/mean") else "robust "
        lines.append(
            f"{indent}noise ({robust}CV of {q.rows_with_spread} rows: {bases}): median "
            f"{_pct(q.median_noise)}, p90 {_pct(q.p90_noise)}"
        )
    if q.rows_median_is_mean:
        lines.append(
            f"{indent}median: the runner's mean on {q.rows_median_is_mean} of {q.rows} rows "
            "(it printed no median)"
        )
    share = f"{indent}re-measured for noise: {_pct(q.remeasured_share)} of rows"
    if q.remeasured_share > REMEASURED_SHARE_NOTE:
        share += " (an unsteady phone)" if q.phone else " (a busy machine)"
    lines.append(share)
    for i, run in enumerate(q.drift_runs, 1):
        base = f"baseline {run.baseline_ms:.3f} ms" if run.baseline_ms else "an earlier run"
        lines.append(
            f"{indent}drift, run {i} ({base}): {run.events} event(s) from "
            f"{run.first_rows_done} to {run.last_rows_done} rows in the file, worst "
            f"{run.worst_ratio:.2f}x its start"
        )
    if q.model_factors:
        low, median, high = q.model_factors
        off = (
            f"{q.models_off_speed} of {q.models_corrected} more than {_pct(DRIFT_MAX)} from it "
            "(timed while the machine's speed moved)"
            if q.models_off_speed
            else f"all {q.models_corrected} within {_pct(DRIFT_MAX)} of it"
        )
        lines += _wrap(
            f"whole models: drift factor {low:.2f}-{high:.2f}, median {median:.2f}; {off}",
            indent,
            indent + "  ",
        )
    return lines + verdict_lines(q, lut, runs, indent)
