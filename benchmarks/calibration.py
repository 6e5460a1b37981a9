"""Calibrating a predictor to another device from N measurements, against cheap baselines and
the ceiling, on real pairs of devices this machine has.

The source predictor is fitted on ``--source`` (e.g. ONNX Runtime, 1 thread). Each ``--target``
LUT (e.g. LiteRT or torch eager, 1 thread) holds whole models measured on the target: a fixed
share is held out; for each N, ``--seeds`` random draws of N from the rest calibrate the source
predictor (:mod:`predictor.calibrated`). On the same N: the source prediction × one factor, and
FLOPs-linear (a · MACs + b) fitted on the N. The ceiling, where the target LUT has layers: a
predictor fitted on the target's own LUT (its layers and every non-held-out whole model); and,
as ``own LUT@N``, the same LUT fitted on only the draw's N whole models (what a full target LUT
gives when just as few whole models are measured), and ``own sum×k``, its plain layer sums
times the one factor that fits the N best. And ``source refit``: the source's LUT features and
learned correction fitted on the N target latencies instead of a map (the trees "as N
allows").

    python benchmarks/calibration.py --source out/ort224.lut --target out/litert.lut \\
        [--target out/torch224.lut] [--sizes 5 10 20 50] [--seeds 30]

Prints, per target and N, the median over seeds of ±10 %, ±5 %, RMSPE and Kendall τ on the
held-out models, and each figure of the calibration as a ratio to the ceiling's RMSPE; how often
the calibrated predictor's 90 % interval holds the held-out truth, and how wide it is; where the
target LUT holds measurements of torchvision's networks (``benchmarks/cross_family.py
--measure``), the same figures on those networks; writes benchmarks/results/calibration.json
and a learning-curve PNG beside it (``--name`` for another file name, e.g. one per source).
Only the ``mnasnet`` space's whole models are used.

Also prints, per target, how far a map of network-level figures can go at all: three linear
maps fitted (least relative squared error, no prior) on every pool model rather than N, on the
same held-out models: the calibrated map's form (k·p + m·MACs + v·act), the same with an
operator count (torch modules per network: eager dispatches each), and the operator-count form
without the source (a·MACs + b·act + c·ops + d). When the last matches the first two, the
source's latencies tell nothing about the target that the network's size does not. And
``bound:trees``: a predictor on the source's LUT features (every feature, learned correction and
all) fitted on every pool model's target latency, the most the source's numbers carry with far
more than N measurements.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import RESULTS, write_result  # noqa: E402

from lut.store import LutStore  # noqa: E402
from lutnas.spaces.arch import Arch  # noqa: E402
from predictor import LatencyPredictor  # noqa: E402
from predictor.evaluate import torchvision_layers  # noqa: E402
from predictor.features import layer_cost  # noqa: E402
from predictor.metrics import metrics  # noqa: E402
from profiler.networks import torchvision_measurements  # noqa: E402

METHODS = (
    "calibrated",
    "source×k",
    "flops-linear",
    "source refit",
    "own sum×k",
    "own LUT@N",
    "ceiling",
)
FIGURES = ("within_10", "within_5", "rmspe", "kendall_tau")


def whole_models(lut: str) -> tuple[list[Arch], np.ndarray, str, dict]:
    """The target's mnasnet whole models, their latencies, its device and its torchvision
    measurements (name -> (layers, resolution, median ms))."""
    with LutStore.open(lut, writable=False) as store:
        frame = store.models_frame()
        frame = frame[frame["space"] == "mnasnet"]
        device = f"{store.backend_config['backend']} {store.backend_config.get('device', '')}"
        tv = torchvision_measurements(store.meta)
    networks = {}
    for name, m in tv.items():
        res = int(m.get("resolution", 224))
        truth = float(np.median([m["median_ms"], *m.get("repeats_ms", [])]))
        networks[name] = (torchvision_layers(name, res), res, truth)
    archs = [Arch.from_json(j) for j in frame["arch_json"]]
    return archs, frame["median_ms"].to_numpy(), device, networks


def macs(archs: list) -> np.ndarray:
    """MACs (millions) of architectures or of LayerSpec lists."""
    return np.array(
        [sum(layer_cost(s)[0] for s in (a.layers() if isinstance(a, Arch) else a)) for a in archs]
    )


@functools.cache
def _ops(spec) -> int:
    from lut.modules import build_layer

    return sum(1 for m in build_layer(spec).modules() if not list(m.children()))


def pool_bounds(source, source_lut, archs, y, pool, test) -> dict[str, dict]:
    """Figures on ``test`` of three linear maps and of the source's features with a learned
    correction, each fitted on every ``pool`` model (see above)."""
    cost = np.array([np.sum([layer_cost(s) for s in a.layers()], axis=0) for a in archs])
    cols = {
        "p": source.predict_many(archs),
        "macs": cost[:, 0],
        "act": cost[:, 2],
        "ops": np.array([sum(_ops(s) for s in a.layers()) for a in archs], dtype=float),
        "one": np.ones(len(archs)),
    }
    forms = {
        "bound:map": ("p", "macs", "act"),
        "bound:map+ops": ("p", "macs", "act", "ops"),
        "bound:no-source": ("macs", "act", "ops", "one"),
    }
    out = {}
    for name, form in forms.items():
        x = np.column_stack([cols[c] for c in form])
        w = np.linalg.lstsq(x[pool] / y[pool, None], np.ones(len(pool)), rcond=None)[0]
        out[name] = metrics(np.maximum(x[test] @ w, 1e-6), y[test])
    trees = LatencyPredictor.fit(source_lut, [(archs[i], y[i]) for i in pool])
    out["bound:trees"] = metrics(trees.predict_many([archs[i] for i in test]), y[test])
    return out


def _predict(predictor, networks: dict) -> np.ndarray:
    return np.array([predictor.predict_detail(s, r).latency_ms for s, r, _ in networks.values()])


def one_draw(
    source, archs, y, train, test, device, networks, target_lut, source_lut=None
) -> dict[str, dict]:
    """Figures of each cheap method on the held-out models (and, under ``tv:`` names, on the
    torchvision networks) after calibrating on the models ``train``; with ``target_lut`` (a
    target LUT with layers), also its own predictor fitted on the same ``train``; with
    ``source_lut``, the source's features and learned correction refitted on them."""
    x_train, x_test = [archs[i] for i in train], [archs[i] for i in test]
    out, tv = {}, {}
    calibrated = source.calibrate(list(zip(x_train, y[train], strict=True)), device=device)
    details = [calibrated.predict_detail(a) for a in x_test]
    out["calibrated"] = np.array([d.latency_ms for d in details])
    p_train, p_test = source.predict_many(x_train), source.predict_many(x_test)
    r = p_train / y[train]
    k = float(r.sum() / (r * r).sum())  # least relative squared error
    out["source×k"] = k * p_test
    m_train, m_test = macs(x_train), macs(x_test)
    a, b = np.polyfit(m_train, y[train], 1, w=1 / y[train]) if len(train) > 1 else (0, y[train][0])
    out["flops-linear"] = a * m_test + b
    if networks:
        tv["calibrated"] = _predict(calibrated, networks)
        tv["source×k"] = k * _predict(source, networks)
        tv["flops-linear"] = a * macs([s for s, _, _ in networks.values()]) + b
    if source_lut is not None:
        refit = LatencyPredictor.fit(source_lut, list(zip(x_train, y[train], strict=True)))
        out["source refit"] = refit.predict_many(x_test)
    if target_lut is not None:
        own = LatencyPredictor.fit(target_lut, list(zip(x_train, y[train], strict=True)))
        out["own LUT@N"] = own.predict_many(x_test)
        s_train, s_test = (
            np.array([own.predict_detail(a).lut_sum_ms for a in x]) for x in (x_train, x_test)
        )
        r = s_train / y[train]
        k_own = float(r.sum() / (r * r).sum())
        out["own sum×k"] = k_own * s_test
        if networks:
            tv["own LUT@N"] = _predict(own, networks)
            tv["own sum×k"] = k_own * np.array(
                [own.predict_detail(s, res).lut_sum_ms for s, res, _ in networks.values()]
            )
    truth = np.array([t for _, _, t in networks.values()])
    figures = {m: metrics(np.maximum(v, 1e-6), y[test]) for m, v in out.items()}
    figures["calibrated"]["interval_coverage"] = float(
        np.mean([d.low_ms <= t <= d.high_ms for d, t in zip(details, y[test], strict=True)])
    )
    figures["calibrated"]["interval_high_over_low"] = float(
        np.median([d.high_ms / d.low_ms for d in details])
    )
    figures |= {f"tv:{m}": metrics(np.maximum(v, 1e-6), truth) for m, v in tv.items()}
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="LUT with whole models (the source)")
    ap.add_argument("--target", action="append", required=True, help="target LUT (repeatable)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20, 50])
    ap.add_argument(
        "--seeds", type=int, default=30, help="draws of N per size (default: %(default)s)"
    )
    ap.add_argument("--test-fraction", type=float, default=0.3)
    ap.add_argument(
        "--name",
        default="calibration",
        help="results/<name>.json and .png (default: %(default)s; e.g. one name per source)",
    )
    args = ap.parse_args()

    source = LatencyPredictor.fit(args.source)
    report: dict = {"source": args.source, "targets": {}}
    lines = []
    for target in args.target:
        archs, y, device, networks = whole_models(target)
        order = list(range(len(archs)))
        random.Random(0).shuffle(order)
        n_test = max(5, int(len(order) * args.test_fraction))
        test, pool = order[:n_test], order[n_test:]
        ceiling = tv_ceiling = None  # needs the target's own layers
        with LutStore.open(target, writable=False) as store:
            has_layers = store.layer_count() > 0
        if has_layers:
            ceiling_fit = LatencyPredictor.fit(target, [(archs[i], y[i]) for i in pool])
            ceiling = metrics(ceiling_fit.predict_many([archs[i] for i in test]), y[test])
            if networks:
                truth = np.array([t for _, _, t in networks.values()])
                tv_ceiling = metrics(_predict(ceiling_fit, networks), truth)
        curve: dict = {}
        intervals: dict = {}  # per N and figure: [lowest, median] over draws
        for n in [s for s in args.sizes if s <= len(pool)]:
            draws = [
                one_draw(
                    source,
                    archs,
                    y,
                    random.Random(seed).sample(pool, n),
                    test,
                    device,
                    networks,
                    target if has_layers else None,
                    args.source,
                )
                for seed in range(args.seeds)
            ]
            curve[n] = {
                m: {f: float(np.median([d[m][f] for d in draws])) for f in FIGURES}
                for m in draws[0]
            }
            intervals[n] = {
                f: [float(np.percentile([d["calibrated"][f] for d in draws], q)) for q in (0, 50)]
                for f in ("interval_coverage", "interval_high_over_low")
            }
            if ceiling is not None:
                curve[n]["ceiling"] = {f: ceiling[f] for f in FIGURES}
            if tv_ceiling is not None:
                curve[n]["tv:ceiling"] = {f: tv_ceiling[f] for f in FIGURES}
        bounds = pool_bounds(source, args.source, archs, y, pool, test)
        report["targets"][target] = {
            "device": device,
            "bounds": {m: {f: float(v[f]) for f in FIGURES} for m, v in bounds.items()},
            "held_out": len(test),
            "torchvision": sorted(networks),
            "pool": len(pool),
            "curve": curve,
            "calibrated_interval": intervals,
        }
        lines.append(
            f"\n{target} ({device}): {len(test)} held out, pool {len(pool)}, "
            f"{len(networks)} torchvision networks"
        )
        lines.append(
            f"{'N':>4} {'method':<13} {'±10%':>6} {'±5%':>6} {'RMSPE':>7} {'τ':>6}  RMSPE / ceiling"
        )
        for n, row in curve.items():
            for m in (m for m in [*METHODS, *(f"tv:{x}" for x in METHODS)] if m in row):
                f = row[m]
                base = tv_ceiling if m.startswith("tv:") else ceiling
                vs = f"{f['rmspe'] / base['rmspe']:.2f}x" if base else "(no target LUT)"
                lines.append(
                    f"{n:>4} {m:<13} {100 * f['within_10']:>5.1f}% {100 * f['within_5']:>5.1f}% "
                    f"{f['rmspe']:>6.2f}% {f['kendall_tau']:>6.3f}  {vs}"
                )
        lines.append("the calibrated predictor's 90% interval on the held-out models:")
        for n, f in intervals.items():
            lines.append(
                f"{n:>4} covers {100 * f['interval_coverage'][1]:.0f}% (worst draw "
                f"{100 * f['interval_coverage'][0]:.0f}%), high/low "
                f"{f['interval_high_over_low'][1]:.2f}x (medians over draws)"
            )
        lines.append(f"every pool model ({len(pool)}), no prior:")
        for m, f in bounds.items():
            vs = f"{f['rmspe'] / ceiling['rmspe']:.2f}x" if ceiling else "(no target LUT)"
            lines.append(
                f"{'all':>4} {m:<16} {100 * f['within_10']:>5.1f}% {100 * f['within_5']:>5.1f}% "
                f"{f['rmspe']:>6.2f}% {f['kendall_tau']:>6.3f}  {vs}"
            )
    print("\n".join(lines))
    png = RESULTS / f"{args.name}.png"
    plot(report, png)
    report["png"] = str(png.relative_to(ROOT))
    write_result(args.name, report)
    return 0


def plot(report: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = report["targets"]
    fig, axes = plt.subplots(1, len(targets), figsize=(6 * len(targets), 4), squeeze=False)
    for ax, t in zip(axes[0], targets.values(), strict=True):
        sizes = sorted(t["curve"])
        for m in (m for m in t["curve"][sizes[0]] if not m.startswith("tv:")):
            ax.plot(sizes, [t["curve"][n][m]["rmspe"] for n in sizes], marker="o", label=m)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes], minor=False)
        ax.minorticks_off()
        ax.set_xlabel("target measurements N")
        ax.set_ylabel("held-out RMSPE (%)")
        ax.set_title(t["device"][:60])
        ax.legend()
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
