"""The accuracy report: four predictors side by side on held-out networks.

Predictors (all fitted on the same training measurements):

- ``flops-linear``: latency = a · MACs + b, least squares;
- ``lut-sum``: the plain sum of the LUT rows;
- ``lut-sum×k``: the LUT sum times one factor k = exp(mean log(measured / LUT sum));
- ``ours``: :class:`~predictor.api.LatencyPredictor`.

Figures: share within ±5% and ±10%, RMSPE, Kendall τ; on held-out search-space architectures
and on torchvision networks measured on the same backend; the learning curve (training-set
sizes); the repeat-measurement noise of the ground truth; the layer estimator with 20% of the
rows held out. :func:`measure_torchvision` and :func:`measure_repeats` record their
measurements in the LUT's metadata (``torchvision_models``, ``repeat_measurements``), so a
report can be re-run without re-measuring.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas.errors import LutnasError
from predictor import features as F
from predictor.api import LatencyPredictor
from predictor.layer_estimator import LayerEstimator
from predictor.model import accuracy
from spaces.arch import Arch

log = logging.getLogger(__name__)

TORCHVISION = (
    "mnasnet0_5",
    "mnasnet0_75",
    "mnasnet1_0",
    "mnasnet1_3",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet_b0",
)
PREDICTORS = ("flops-linear", "lut-sum", "lut-sum×k", "ours")
CURVE_SIZES = (10, 30, 100, 300)


def metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Accuracy figures plus Kendall τ of the ranking."""
    out = accuracy(pred, true)
    out["kendall_tau"] = float(kendalltau(pred, true)[0]) if len(true) > 2 else math.nan
    return out


def split(models: pd.DataFrame, test_fraction: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic train/test split by a hash of the architecture key (stable as rows are
    added: an architecture never changes side)."""
    h = models["arch_key"].map(lambda k: int(hashlib.sha1(k.encode()).hexdigest()[:8], 16) / 2**32)
    test = h < test_fraction
    return models[~test].reset_index(drop=True), models[test].reset_index(drop=True)


@dataclass
class Baselines:
    """The three simple predictors, fitted on training networks."""

    flops_a: float
    flops_b: float
    factor: float

    @classmethod
    def fit(cls, macs_m: np.ndarray, lut_ms: np.ndarray, true_ms: np.ndarray) -> Baselines:
        a, b = np.polyfit(macs_m, true_ms, 1)
        return cls(float(a), float(b), float(np.exp(np.mean(np.log(true_ms / lut_ms)))))

    def predict(self, macs_m: np.ndarray, lut_ms: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "flops-linear": self.flops_a * macs_m + self.flops_b,
            "lut-sum": lut_ms,
            "lut-sum×k": self.factor * lut_ms,
        }


@dataclass
class Report:
    """Everything :func:`evaluate` computes; :meth:`text` formats it."""

    lut: str
    backend: dict
    n_train: int
    n_test: int
    test: dict[str, dict[str, float]]
    torchvision: dict[str, dict] = field(default_factory=dict)
    torchvision_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    curve: list[dict] = field(default_factory=list)
    noise: dict = field(default_factory=dict)
    layer_estimator: dict = field(default_factory=dict)
    interval_coverage: float = math.nan
    ood_test: int = 0
    cv: dict = field(default_factory=dict)
    truth: str = ""

    def text(self) -> str:
        cfg = self.backend
        lines = [
            f"lutnas evaluate: {self.lut}",
            f"  backend {cfg.get('backend')} threads={cfg.get('threads')} on "
            f"{cfg.get('device')}; {self.n_train} training / {self.n_test} held-out "
            "architectures",
            f"  ground truth = {self.truth}",
            "",
        ]
        lines += _table("held-out architectures", self.test)
        lines.append(
            f"  ours: 90% interval covers {100 * self.interval_coverage:.1f}% of "
            f"held-out; {self.ood_test} flagged out-of-distribution"
        )
        if self.noise:
            n = self.noise
            lines.append(
                f"  ground-truth repeat noise ({n['models']} models, {n['measurements']} "
                f"measurements): RMS {n['rms_pct_single']:.2f}% per measurement (robust "
                f"{n['robust_pct_single']:.2f}%); two "
                f"measurements of a model differ by {n['rms_pct_pair']:.2f}% RMS, "
                f"{100 * n['pair_within_5']:.0f}% of pairs within ±5%, "
                f"{100 * n['pair_within_10']:.0f}% within ±10%; ours RMSPE / noise = "
                f"{self.test['ours']['rmspe'] / n['rms_pct_single']:.2f} (robust: "
                f"{self.test['ours']['rmspe'] / n['robust_pct_single']:.2f})"
            )
        if self.torchvision_metrics:
            lines.append("")
            lines += _table("torchvision networks", self.torchvision_metrics)
            lines.append(
                f"  {'network':<20}{'measured':>10}"
                + "".join(f"{p:>14}" for p in PREDICTORS)
                + "  OOD  est.rows"
            )
            for name, r in self.torchvision.items():
                lines.append(
                    f"  {name:<20}{r['measured_ms']:>9.2f} "
                    + "".join(
                        f"{r[p]:>8.2f} ({100 * (r[p] / r['measured_ms'] - 1):+4.0f}%)"[:14].rjust(
                            14
                        )
                        for p in PREDICTORS
                    )
                    + f"  {'yes' if r['ood'] else 'no ':<4} "
                    f"{100 * r['estimated_share']:.0f}%"
                )
        if self.curve:
            lines += [
                "",
                "  learning curve (held-out, ±10% / ±5% / RMSPE / τ):",
                f"  {'train n':>8}  {'lut-sum×k':>28}  {'ours':>28}",
            ]
            for c in self.curve:
                k, o = c["lut-sum×k"], c["ours"]
                lines.append(
                    f"  {c['n']:>8}  "
                    + "  ".join(
                        f"{100 * m['within_10']:5.1f}% {100 * m['within_5']:5.1f}% "
                        f"{m['rmspe']:5.2f} {m['kendall_tau']:.3f}"
                        for m in (k, o)
                    )
                )
        if self.layer_estimator:
            e = self.layer_estimator
            lines += [
                "",
                f"  layer estimator ({100 * e['held_out_share']:.0f}% of LUT rows "
                f"held out, {e['held_out_rows']} rows): median error "
                f"{e['median_abs_pct']:.1f}%, p90 {e['p90_abs_pct']:.1f}%; whole models "
                f"with {100 * e['mean_rows_estimated']:.0f}% of rows estimated: "
                f"{100 * e['models']['within_10']:.1f}% within ±10%, "
                f"{100 * e['models']['within_5']:.1f}% within ±5%, RMSPE "
                f"{e['models']['rmspe']:.2f}%",
            ]
            for kind, err in sorted(e["per_kind"].items()):
                lines.append(f"    {kind:<7} median error {err:.1f}%")
        return "\n".join(lines)


def _table(title: str, rows: dict[str, dict[str, float]]) -> list[str]:
    out = [
        f"  {title}:",
        f"  {'predictor':<14}{'±5%':>8}{'±10%':>8}{'RMSPE%':>9}{'τ':>8}"
        f"{'vs lut-sum×k (RMSPE)':>22}",
    ]
    ref = rows.get("lut-sum×k", {}).get("rmspe", math.nan)
    for name, m in rows.items():
        out.append(
            f"  {name:<14}{100 * m['within_5']:>7.1f}%{100 * m['within_10']:>7.1f}%"
            f"{m['rmspe']:>9.2f}{m['kendall_tau']:>8.3f}{m['rmspe'] / ref:>21.2f}x"
        )
    return out


def _sums(predictor: LatencyPredictor, archs: Sequence[Arch]) -> np.ndarray:
    return np.array([predictor.sums.of_arch(a)[0] for a in archs])


def _archs(frame: pd.DataFrame) -> list[Arch]:
    return [Arch.from_json(j) for j in frame["arch_json"]]


def compare(
    predictor: LatencyPredictor, baselines: Baselines, archs: Sequence[Arch], true_ms: np.ndarray
) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Metrics and predictions of the four predictors on ``archs``."""
    sums = _sums(predictor, archs)
    preds = baselines.predict(F.column(sums, "macs_m"), F.column(sums, "lut_ms"))
    preds["ours"] = predictor.predict_many(archs)
    return {p: metrics(preds[p], true_ms) for p in PREDICTORS}, preds


def learning_curve(
    store: LutStore,
    train: pd.DataFrame,
    test: pd.DataFrame,
    sizes: Sequence[int] = CURVE_SIZES,
    seed: int = 0,
    true: np.ndarray | None = None,
) -> list[dict]:
    """Held-out accuracy of the scaled LUT sum and of ours against training-set size
    (``true``: the held-out latencies; default their first measurement)."""
    order = np.random.default_rng(seed).permutation(len(train))
    archs = _archs(test)
    true = test["median_ms"].to_numpy() if true is None else true
    out = []
    for n in [s for s in sizes if s < len(train)] + [len(train)]:
        subset = train.iloc[order[:n]]
        p = LatencyPredictor.fit(store, subset, seed=seed, estimate_missing=False)
        tr_sums = _sums(p, _archs(subset))
        base = Baselines.fit(
            F.column(tr_sums, "macs_m"), F.column(tr_sums, "lut_ms"), subset["median_ms"].to_numpy()
        )
        figures, _ = compare(p, base, archs, true)
        out.append({"n": n, "lut-sum×k": figures["lut-sum×k"], "ours": figures["ours"]})
    return out


def repeat_noise(measurements: Sequence[Sequence[float]]) -> dict:
    """Noise of the ground truth from repeated measurements of the same networks (each entry:
    two or more independent measurements of one network, in ms).

    ``rms_pct_single`` is the noise of one measurement: the pooled RMS of the relative
    deviations from each network's mean (with k − 1 degrees of freedom per network);
    ``robust_pct_single`` the same from the median pair difference; the pair figures compare
    the first two measurements of each network.
    """
    groups = [np.asarray(m, dtype=float) for m in measurements if len(m) >= 2]
    dev = np.concatenate([g / g.mean() - 1 for g in groups])
    dof = sum(len(g) - 1 for g in groups)
    diff = np.array([(g[1] - g[0]) / g[:2].mean() for g in groups])
    every_pair = np.array(
        [
            (g[j] - g[i]) / ((g[i] + g[j]) / 2)
            for g in groups
            for i in range(len(g))
            for j in range(i + 1, len(g))
        ]
    )
    return {
        # the same from the median absolute pair difference: insensitive to a few gross outliers
        "robust_pct_single": float(100 * 1.4826 * np.median(np.abs(every_pair)) / math.sqrt(2)),
        "models": len(groups),
        "measurements": int(sum(len(g) for g in groups)),
        "rms_pct_single": float(100 * np.sqrt(np.sum(dev**2) / dof)),
        "rms_pct_pair": float(100 * np.sqrt(np.mean(diff**2))),
        "pair_within_5": float(np.mean(np.abs(diff) <= 0.05)),
        "pair_within_10": float(np.mean(np.abs(diff) <= 0.10)),
    }


def _repeats(meta: dict) -> dict[str, list[float]]:
    raw = meta.get("repeat_measurements") or {}
    return {k: (list(v) if isinstance(v, list) else [float(v)]) for k, v in raw.items()}


def layer_estimator_report(
    predictor: LatencyPredictor,
    archs: Sequence[Arch],
    true_ms: np.ndarray,
    share: float = 0.2,
    seed: int = 0,
) -> dict:
    """Hold out ``share`` of the LUT rows, estimate them, and predict ``archs`` with them."""
    rows = dict(predictor.lut_rows)
    keys = sorted(rows)
    rng = np.random.default_rng(seed)
    held = set(rng.choice(keys, size=int(share * len(keys)), replace=False).tolist())
    kept = {k: v for k, v in rows.items() if k not in held}
    est = LayerEstimator.fit([LayerSpec.from_key(k) for k in kept], list(kept.values()))
    held_specs = [LayerSpec.from_key(k) for k in sorted(held)]
    guess = est.estimate_ms(held_specs)
    truth = np.array([rows[s.key] for s in held_specs])
    err = np.abs(guess / truth - 1) * 100
    kinds = np.array([s.op for s in held_specs])
    partial = LatencyPredictor(predictor.fitted, est, kept, predictor.meta)
    pred = partial.predict_many(archs)
    per_model = [np.mean([s.key in held for s in a.layers()]) for a in archs]
    return {
        "held_out_share": share,
        "held_out_rows": len(held),
        "median_abs_pct": float(np.median(err)),
        "p90_abs_pct": float(np.quantile(err, 0.9)),
        "per_kind": {k: float(np.median(err[kinds == k])) for k in sorted(set(kinds))},
        "mean_rows_estimated": float(np.mean(per_model)),
        "models": metrics(pred, true_ms),
    }


def torchvision_rows(
    predictor: LatencyPredictor,
    baselines: Baselines,
    measured: dict[str, dict],
    truth: str = "median",
) -> tuple[dict[str, dict], dict[str, dict]]:
    """Per-network predictions of the four predictors for measured torchvision networks
    (``truth``: the median of every measurement of a network, or the first)."""
    import torchvision.models as tvm

    from predictor.decompose import decompose_module

    rows = {}
    for name, m in measured.items():
        res = int(m.get("resolution", 224))
        specs = decompose_module(getattr(tvm, name)(weights=None), (1, 3, res, res)).specs
        detail = predictor.predict_detail(specs, res)
        vec, _ = predictor.sums.of_specs(specs, res)
        base = baselines.predict(F.column(vec[None], "macs_m"), F.column(vec[None], "lut_ms"))
        rows[name] = {
            "measured_ms": float(np.median([m["median_ms"], *m.get("repeats_ms", [])]))
            if truth == "median"
            else m["median_ms"],
            **{k: float(v[0]) for k, v in base.items()},
            "ours": detail.latency_ms,
            "low_ms": detail.low_ms,
            "high_ms": detail.high_ms,
            "ood": detail.out_of_distribution,
            "estimated_share": detail.estimated_share,
        }
    true = np.array([r["measured_ms"] for r in rows.values()])
    figures = {p: metrics(np.array([r[p] for r in rows.values()]), true) for p in PREDICTORS}
    return rows, figures


def plot(
    path: str | Path,
    true: np.ndarray,
    preds: dict[str, np.ndarray],
    tv: dict[str, dict] | None = None,
) -> Path:
    """Predicted-vs-measured scatter, one panel per predictor, ±10% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PREDICTORS), figsize=(4.2 * len(PREDICTORS), 4.2))
    lo = 0.8 * min(true.min(), *(p.min() for p in preds.values()))
    hi = 1.2 * max(true.max(), *(p.max() for p in preds.values()))
    for ax, name in zip(axes, PREDICTORS, strict=False):
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.fill_between([lo, hi], [0.9 * lo, 0.9 * hi], [1.1 * lo, 1.1 * hi], color="0.9")
        ax.scatter(true, preds[name], s=8, label="held-out archs")
        if tv:
            ax.scatter(
                [r["measured_ms"] for r in tv.values()],
                [r[name] for r in tv.values()],
                s=28,
                marker="x",
                color="C3",
                label="torchvision",
            )
        m = metrics(preds[name], true)
        ax.set_title(
            f"{name}\n±10%: {100 * m['within_10']:.0f}%  ±5%: "
            f"{100 * m['within_5']:.0f}%  τ {m['kendall_tau']:.3f}",
            fontsize=9,
        )
        ax.set_xlabel("measured (ms)")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    axes[0].set_ylabel("predicted (ms)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def evaluate(
    lut: str | Path,
    test_fraction: float = 0.25,
    seed: int = 0,
    curve_sizes: Sequence[int] | None = CURVE_SIZES,
    png: str | Path | None = None,
    estimator_share: float | None = 0.2,
    truth: str = "median",
) -> Report:
    """Fit on the LUT's training split and report on its held-out split (and on the
    torchvision networks and repeat measurements recorded in the LUT's metadata).

    ``truth``: ``median`` takes the median of every measurement of a held-out model (the
    profile-device one and the repeats of :func:`measure_repeats`), ``first`` only the first.

    Raises:
        LutnasError: too few whole-model measurements to split.
    """
    with LutStore.open(lut) as store:
        models = store.models_frame()
        meta = store.meta
        if len(models) < 8:
            raise LutnasError(
                f"{lut} holds {len(models)} whole-model measurements; an evaluation "
                "needs at least 8 (profile-device --whole-models N)"
            )
        train, test = split(models, test_fraction)
        if len(test) < 2:
            raise LutnasError(f"the held-out split has {len(test)} models; raise --test-fraction")
        predictor = LatencyPredictor.fit(store, train, seed=seed)
        tr_sums = _sums(predictor, _archs(train))
        baselines = Baselines.fit(
            F.column(tr_sums, "macs_m"), F.column(tr_sums, "lut_ms"), train["median_ms"].to_numpy()
        )
        archs, true = _archs(test), test["median_ms"].to_numpy()
        repeats = _repeats(meta)
        if truth == "median":  # the median of every measurement of a held-out model
            true = np.array(
                [
                    np.median([t, *repeats.get(k, [])])
                    for k, t in zip(test["arch_key"], true, strict=True)
                ]
            )
        counts = [1 + len(repeats.get(k, [])) for k in test["arch_key"]]
        figures, preds = compare(predictor, baselines, archs, true)
        details = [predictor.predict_detail(a) for a in archs]
        report = Report(
            lut=str(lut),
            backend=store.backend_config,
            n_train=len(train),
            n_test=len(test),
            test=figures,
            cv=predictor.meta["training"]["cv"],
            truth=f"{truth}: measurements per held-out model "
            + ", ".join(f"{k}: {counts.count(k)}" for k in sorted(set(counts))),
        )
        report.interval_coverage = float(
            np.mean([d.low_ms <= t <= d.high_ms for d, t in zip(details, true, strict=False)])
        )
        report.ood_test = int(sum(d.out_of_distribution for d in details))
        tv = meta.get("torchvision_models") or {}
        if tv:
            report.torchvision, report.torchvision_metrics = torchvision_rows(
                predictor, baselines, tv, truth
            )
        first = dict(zip(models["arch_key"], models["median_ms"], strict=False))
        groups = [[first[k], *v] for k, v in repeats.items() if k in first]
        if groups:
            report.noise = repeat_noise(groups)
        if curve_sizes:
            report.curve = learning_curve(store, train, test, curve_sizes, seed, true)
        if estimator_share:
            report.layer_estimator = layer_estimator_report(
                predictor, archs, true, estimator_share, seed
            )
    if png:
        plot(png, true, preds, report.torchvision)
    return report


# --- measuring what the report needs ----------------------------------------------------------
def _backend_for(store: LutStore):
    from profiler.base import host_backend

    return host_backend(store.backend_config, "measuring for the report")


def measure_torchvision(
    lut: str | Path,
    names: Sequence[str] = TORCHVISION,
    resolution: int = 224,
    progress: bool = False,
    times: int = 1,
) -> dict[str, dict]:
    """Measure torchvision networks (random weights) ``times`` times each (passes apart) and
    the LUT rows they need, on the LUT's backend configuration; recorded in the LUT (rows, and
    ``meta.torchvision_models``: the first measurement's statistics, later ones in
    ``repeats_ms``)."""
    import torchvision.models as tvm

    from predictor.decompose import decompose_module
    from profiler.base import Workload
    from profiler.loop import ProfileSettings, measure_steady, profile_layers, reference_for

    with LutStore.open(lut) as store:
        backend = _backend_for(store)
        settings = ProfileSettings.from_identity(store.settings)
        done = dict(store.meta.get("torchvision_models") or {})
        with backend:
            if backend.config() != store.backend_config:
                raise LutnasError(
                    "this machine's backend configuration differs from the LUT's; "
                    "measure on the machine and versions the LUT was made with"
                )
            reference = reference_for(backend, store, settings)
            for name in names:
                specs = decompose_module(
                    getattr(tvm, name)(weights=None), (1, 3, resolution, resolution)
                ).specs
                profile_layers(backend, store, specs, settings, progress)
            for time_ in range(times):
                for name in names:
                    have = 1 + len(done[name].get("repeats_ms", [])) if name in done else 0
                    if have > time_:
                        continue
                    w = Workload(
                        f"torchvision:{name}@{resolution}",
                        lambda name=name: getattr(tvm, name)(weights=None).eval(),
                        (1, 3, resolution, resolution),
                    )
                    m, attempts = measure_steady(backend, w, settings, reference)
                    if name in done:
                        done[name]["repeats_ms"] = [*done[name].get("repeats_ms", []), m.median_ms]
                    else:
                        done[name] = {**m.to_dict(), "resolution": resolution, "attempts": attempts}
                    store.set_meta("torchvision_models", done)
    return done


def measure_repeats(
    lut: str | Path, n: int, test_fraction: float = 0.25, times: int = 1
) -> dict[str, list[float]]:
    """Measure ``n`` held-out whole models ``times`` more times each, one pass over them per
    time (so a model's measurements are minutes apart); ``meta.repeat_measurements``."""
    from profiler.loop import ProfileSettings, measure_steady, reference_for
    from profiler.workloads import arch_workload

    with LutStore.open(lut) as store:
        _, test = split(store.models_frame(), test_fraction)
        backend = _backend_for(store)
        settings = ProfileSettings.from_identity(store.settings)
        done = _repeats(store.meta)
        with backend:
            reference = reference_for(backend, store, settings)
            for time_ in range(times):
                for j in test["arch_json"].iloc[:n]:
                    arch = Arch.from_json(j)
                    if len(done.get(arch.key, [])) > time_:
                        continue
                    m = measure_steady(backend, arch_workload(arch), settings, reference)[0]
                    done[arch.key] = [*done.get(arch.key, []), m.median_ms]
                    store.set_meta("repeat_measurements", done)
    return done
