"""The accuracy report: four predictors side by side on held-out networks, computed.

:func:`evaluate` fits on a deterministic split of a LUT's whole-model rows (:func:`split`) and
compares the four predictors of :mod:`predictor.metrics` on the held-out architectures and on
the torchvision networks measured on the same backend; it adds the learning curve
(training-set sizes), the repeat-measurement noise of the ground truth, and the layer estimator
with 20% of the rows held out. The measurements it reads beyond the LUT's own rows are made by
:mod:`profiler.networks` (``lutnas evaluate --measure-torchvision --repeat N``) and recorded in
the LUT's metadata, so a report can be re-run without re-measuring. The result is a
:class:`~predictor.report.Report`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.stored import adopt_lut_spaces
from predictor import features as F
from predictor.api import LatencyPredictor
from predictor.layer_estimator import LayerEstimator
from predictor.metrics import PREDICTORS, Baselines, metrics, repeat_noise
from predictor.named_networks import torchvision_graph, torchvision_layers
from predictor.report import Report, plot
from profiler.networks import TORCHVISION, repeat_measurements, torchvision_measurements

__all__ = [
    "CURVE_SIZES",
    "PREDICTORS",
    "TORCHVISION",
    "Baselines",
    "Report",
    "compare",
    "evaluate",
    "held_out_archs",
    "layer_estimator_report",
    "learning_curve",
    "metrics",
    "plot",
    "repeat_noise",
    "split",
    "torchvision_graph",
    "torchvision_layers",
    "torchvision_rows",
]

CURVE_SIZES = (10, 30, 100, 300)


def split(models: pd.DataFrame, test_fraction: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic train/test split by a hash of the architecture key (stable as rows are
    added: an architecture never changes side)."""
    h = models["arch_key"].map(lambda k: int(hashlib.sha1(k.encode()).hexdigest()[:8], 16) / 2**32)
    test = h < test_fraction
    return models[~test].reset_index(drop=True), models[test].reset_index(drop=True)


def held_out_archs(lut: str | Path, n: int, test_fraction: float = 0.25) -> list[Arch]:
    """The first ``n`` held-out architectures of the LUT's split (the models whose repeat
    measurements give the ground truth's noise: ``profiler.networks.measure_repeats``)."""
    with LutStore.open(lut) as store:
        adopt_lut_spaces(store)
        _, test = split(store.models_frame(), test_fraction)
    return _archs(test.iloc[:n])


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
    rows = {}
    for name, m in measured.items():
        res = int(m.get("resolution", 224))
        specs = torchvision_layers(name, res)
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
    profile-device one and the repeats of :func:`profiler.networks.measure_repeats`),
    ``first`` only the first.

    Raises:
        LutnasError: too few whole-model measurements to split.
    """
    with LutStore.open(lut) as store:
        adopt_lut_spaces(store)
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
        repeats = repeat_measurements(meta)
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
        tv = torchvision_measurements(meta)
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
