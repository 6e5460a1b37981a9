"""Is a LUT fit for use? Noise, drift and re-measurement figures and a one-line verdict.

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
- :data:`P90_NOISE_MAX` 10%: the profiler's default ``--cv-threshold`` (rows above it are
  re-measured, up to three times), so at most a tenth of the rows may stay above it. The remedy
  names the rows above it: ``lutnas lut remove`` them and profile again (it resumes).
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
from collections import Counter
from dataclasses import dataclass, field

from lut.measurement import noise

MEDIAN_NOISE_MAX = 0.09  # median robust CV of the rows
P90_NOISE_MAX = 0.10  # 90th percentile of the rows' robust CV (= default --cv-threshold)
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
    noise_bases: dict[str, int] = field(default_factory=dict)  # basis -> rows (see noise())
    rows_median_is_mean: int = 0  # rows whose runner printed no median: the mean stands in
    phone: bool = False  # measured on a phone (adb), not on this machine

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


def assess(layers, meta: dict, models=None) -> Quality:
    """The quality figures of a LUT's layers table, meta and (optional) whole-models table."""
    per_row = row_noise(layers)
    noise = sorted(v for v, _ in per_row if not math.isnan(v))
    rows = len(layers)
    mean_as_median = layers["median_is_mean"] if "median_is_mean" in layers else []
    factors = []
    if models is not None and "drift_factor" in models:
        factors = [float(f) for f in models["drift_factor"] if f is not None and not math.isnan(f)]
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
        noise_bases=dict(Counter(basis for _, basis in per_row if basis is not None)),
        rows_median_is_mean=sum(1 for v in mean_as_median if v == v and v),
        phone=meta.get("backend_config", {}).get("backend") == "adb",
    )


def assess_store(store) -> Quality:
    """:func:`assess` of an open ``LutStore``: its layers, meta and whole models."""
    return assess(store.layers_frame(), store.meta, store.models_frame())


def remedy(q: Quality, lut: str, runs: int | None = None) -> list[str]:
    """What to do about a table that is not ``usable`` (commands that exist today)."""
    todo = []
    if q.noisy:
        more = f" (now {runs})" if runs else ""
        n = q.rows_above_target
        todo.append(
            f"run on a quieter machine, raise --runs{more}, or re-measure the {n} rows above "
            f"{_pct(P90_NOISE_MAX)}: lutnas lut remove {lut} KEY... (lutnas lut show {lut} "
            f"--noisiest {n} lists them), then the same profile-device command again (it "
            "resumes and measures what is missing)"
        )
    if q.drift_runs:
        todo.append(
            "the machine's speed changed while profiling (throttling or other load): re-run on "
            "an idle, cool machine; rows timed after the drift are skewed"
        )
    if q.models_drifted:
        todo.append(
            f"{q.models_off_speed} whole models were timed while the machine's speed moved (drift "
            f"factor more than {_pct(DRIFT_MAX)} from the median), where the correction is only "
            "partial: re-time them on an idle machine (their keys and drift_factor: lutnas lut "
            f"export {lut} --csv rows.csv; lutnas lut remove {lut} KEY..., then the same "
            "profile-device command again)"
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


def verdict_line(q: Quality, lut: str, runs: int | None = None) -> str:
    """ONE line: the verdict, the figures behind it and, when not usable, what to do."""
    if q.verdict == "empty":
        todo = remedy(q, lut, runs)
        return (
            "verdict: no layer rows — whole models only, e.g. to calibrate a predictor with "
            f"(lutnas fit --lut {lut} --prior SOURCE.predictor), or profile the layers next"
            + (f"; {'; '.join(todo)}" if todo else "")
        )
    if q.median_noise is None:
        noise = "noise unknown"
    else:
        noise = f"median noise {_pct(q.median_noise)}, p90 {_pct(q.p90_noise)}"
        if q.noisy:
            noise += f" (targets ≤ {_pct(MEDIAN_NOISE_MAX)}, ≤ {_pct(P90_NOISE_MAX)})"
        if q.noise_bases.get("std/mean"):
            noise += f" ({q.noise_bases['std/mean']} rows by std/mean: no percentiles printed)"
    drift = (
        "no drift"
        if not q.drift_runs
        else f"drift in {len(q.drift_runs)} run(s), worst "
        f"{max((r.worst_ratio for r in q.drift_runs), key=lambda r: abs(r - 1)):.2f}x"
    )
    if q.models_drifted:
        drift += f", {q.models_off_speed} of {q.models_corrected} whole models timed off speed"
    todo = remedy(q, lut, runs)
    return f"verdict: {q.verdict} — {noise}, {drift}" + (f": {'; '.join(todo)}" if todo else "")


def quality_lines(q: Quality, lut: str, runs: int | None = None, indent: str = "  ") -> list[str]:
    """The figures (noise, re-measured share, drift per run) and the verdict line last."""
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
        lines.append(
            f"{indent}whole models: drift factor {low:.2f}-{high:.2f}, median {median:.2f}; "
            f"{q.models_off_speed} of {q.models_corrected} more than {_pct(DRIFT_MAX)} from the "
            "median (timed while the machine's speed moved)"
        )
    lines.append(indent + verdict_line(q, lut, runs))
    return lines
