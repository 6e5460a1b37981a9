"""Predicting networks that fork and join (issue 30): torchvision's 27 mobile classification
networks, predicted vs measured on one backend, per family.

    python benchmarks/graph_networks.py --backend onnxruntime --out out/graphs_ort.lut
    python benchmarks/graph_networks.py --backend litert --out out/graphs_litert.lut

One run, one backend, 1 thread, 224×224, everything measured in this run (the machine is
shared: only ratios measured together are compared):

1. the LUT rows and whole models of ``--archs`` random MnasNet-space architectures (the data a
   predictor is usually fitted on), then every network whole (profile-device
   --whole-models-include; on host backends in turns with the reference, rescaled to its
   calibrated speed);
2. **without** the networks' families: a predictor fitted on the architectures only predicts
   each network, measuring the rows it lacks on demand (``predict_module(..., backend=)``);
3. **with** their families: the networks are cut into ``--folds`` folds, each family spread
   over them; a predictor fitted on the architectures and the other folds' networks predicts a
   fold (so a network is never predicted by a fit that saw it, but its family's other members
   are among the whole models; a family of one, GoogLeNet, has no other member).

Each setting is compared with the plain LUT sum, the LUT sum × one factor and FLOPs-linear
fitted on the same whole models: share within ±10 % and RMSPE per family and overall.
Writes ``benchmarks/results/graph_networks_<backend>.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from _results import RESULTS, write_result  # noqa: E402

from lut.store import LutStore  # noqa: E402
from lutnas.spaces.arch import Arch  # noqa: E402
from lutnas.spaces.sampling import sample_archs  # noqa: E402
from lutnas.spaces.space import get_space  # noqa: E402
from predictor import LatencyPredictor  # noqa: E402
from predictor import features as F  # noqa: E402
from predictor.metrics import PREDICTORS, Baselines, metrics  # noqa: E402
from predictor.named_networks import torchvision_graph, torchvision_layers  # noqa: E402
from profiler.base import get_backend  # noqa: E402
from profiler.loop import ProfileSettings, profile_layers, profile_models  # noqa: E402
from profiler.networks import profile_networks, training_networks  # noqa: E402
from profiler.torchvision_nets import MOBILE_NETWORKS, build_network, family_of  # noqa: E402

SETTINGS = ("without", "with")


def measure(args: argparse.Namespace, names: list[str]) -> dict[str, float]:
    """Step 1: the architectures' rows and whole models, and the networks whole."""
    settings = ProfileSettings(warmup=args.warmup, runs=args.runs, seed=args.seed)
    archs = sample_archs(get_space("mnasnet"), args.archs, args.seed, (args.resolution,))
    specs = list({s.key: s for a in archs for s in a.layers()}.values())
    backend = get_backend(args.backend, threads=1)
    with backend:
        store = LutStore.create_or_resume(
            args.out, backend.config(), backend.device_info(), settings.identity()
        )
        with store:
            for what, report in (
                ("arch layers", profile_layers(backend, store, specs, settings)),
                ("arch whole models", profile_models(backend, store, archs, settings)),
                (
                    "networks whole",
                    profile_networks(
                        backend,
                        store,
                        names,
                        [args.resolution],
                        settings,
                        layers_of=torchvision_graph,
                    ),
                ),
            ):
                print(f"{what}: {report.measured} measured, {report.skipped} already there")
            record = training_networks(store.meta)
    return {n: float(record[f"{n}@{args.resolution}"]["median_ms"]) for n in names}


def _baselines(p: LatencyPredictor, nets: list[str], truth: dict, res: int) -> Baselines:
    """The simple predictors fitted on what ``p`` was fitted on: the LUT's architectures and
    the networks ``nets``."""
    with LutStore.open(p.lut_path, writable=False) as store:
        models = store.models_frame()
    sums = [p.sums.of_arch(Arch.from_json(j))[0] for j in models["arch_json"]]
    sums += [p.sums.of_specs(torchvision_layers(n, res), res)[0] for n in nets]
    true = [*models["median_ms"], *(truth[n] for n in nets)]
    s = np.array(sums)
    return Baselines.fit(F.column(s, "macs_m"), F.column(s, "lut_ms"), np.array(true))


def _row(p: LatencyPredictor, base: Baselines, name: str, res: int, detail) -> dict:
    vec, _ = p.sums.of_specs(torchvision_layers(name, res), res)
    simple = base.predict(F.column(vec[None], "macs_m"), F.column(vec[None], "lut_ms"))
    return {
        **{k: float(v[0]) for k, v in simple.items()},
        "ours": detail.latency_ms,
        "ood": bool(detail.out_of_distribution),
        "ood_reasons": list(detail.ood_reasons[:4]),
        "measured_on_demand": len(detail.measured_keys),
        "estimated_rows": len(detail.estimated_keys),
    }


def predict(args: argparse.Namespace, names: list[str], truth: dict) -> dict[str, dict]:
    """Steps 2 and 3: each network predicted without and with its family."""
    res, shape = args.resolution, (1, 3, args.resolution, args.resolution)
    rows: dict[str, dict] = {n: {"family": family_of(n), "measured_ms": truth[n]} for n in names}
    without = LatencyPredictor.fit(args.out, networks=(), seed=args.seed)
    for i, name in enumerate(names):  # missing rows measured here, added to the LUT
        backend = get_backend(args.backend, threads=1)
        detail = without.predict_module(build_network(name), shape, backend=backend)
        print(f"[{i + 1}/{len(names)}] {name}: {len(detail.measured_keys)} rows measured")
        rows[name]["without"] = detail
    base = _baselines(without, [], truth, res)
    for name in names:
        rows[name]["without"] = _row(without, base, name, res, rows[name]["without"])
    folds = _folds(names, args.folds)
    for k, fold in enumerate(folds):
        others = [n for n in names if n not in fold]
        p = LatencyPredictor.fit(args.out, networks=others, seed=args.seed)
        base = _baselines(p, others, truth, res)
        for name in fold:
            detail = p.predict_detail(torchvision_layers(name, res), res, strict=True)
            rows[name]["with"] = _row(p, base, name, res, detail)
        print(f"fold {k + 1}/{len(folds)}: fitted with {len(others)} networks")
    return rows


def _folds(names: list[str], k: int) -> list[list[str]]:
    """``k`` folds, each family's networks dealt over them in turn."""
    folds: list[list[str]] = [[] for _ in range(k)]
    start: dict[str, int] = {}  # each family starts one fold on from the one before
    dealt: dict[str, int] = {}
    for n in names:
        f = family_of(n)
        start.setdefault(f, len(start))
        folds[(start[f] + dealt.get(f, 0)) % k].append(n)
        dealt[f] = dealt.get(f, 0) + 1
    return [f for f in folds if f]


def table(rows: dict[str, dict]) -> dict[str, dict]:
    """Per family and overall: the figures of each predictor in each setting."""
    groups = {"all": list(rows)}
    for name, r in rows.items():
        groups.setdefault(r["family"], []).append(name)
    out = {}
    for group, members in groups.items():
        true = np.array([rows[n]["measured_ms"] for n in members])
        out[group] = {"n": len(members)}
        for setting in SETTINGS:
            out[group][setting] = {
                p: metrics(np.array([rows[n][setting][p] for n in members]), true)
                for p in PREDICTORS
            }
            out[group][setting]["ood"] = int(sum(rows[n][setting]["ood"] for n in members))
    return out


def show(figures: dict[str, dict]) -> None:
    head = "  ".join(f"{p:>12}" for p in PREDICTORS)
    print(f"\n{'':14} {'':3}  {'±10% share / RMSPE %':^{len(head)}}")
    print(f"{'family':14} {'n':>3}  {'setting':8} {head}")
    for group, g in figures.items():
        for setting in SETTINGS:
            cells = "  ".join(
                f"{100 * g[setting][p]['within_10']:5.0f}/{g[setting][p]['rmspe']:5.1f}"
                for p in PREDICTORS
            )
            label = group if setting == "without" else ""
            n = str(g["n"]) if setting == "without" else ""
            print(f"{label:14} {n:>3}  {setting:8} {cells}  ood {g[setting]['ood']}")


def plot(path: Path, rows: dict[str, dict], backend: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = sorted({r["family"] for r in rows.values()})
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), sharey=True)
    shown = [r["measured_ms"] for r in rows.values()] + [
        r[s][p] for r in rows.values() for s in SETTINGS for p in ("ours", "lut-sum")
    ]
    lo, hi = 0.8 * min(shown), 1.25 * max(shown)
    for ax, setting in zip(axes, SETTINGS, strict=True):
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.fill_between([lo, hi], [0.9 * lo, 0.9 * hi], [1.1 * lo, 1.1 * hi], color="0.9")
        for i, fam in enumerate(families):
            mine = [r for r in rows.values() if r["family"] == fam]
            t = [r["measured_ms"] for r in mine]
            ax.scatter(t, [r[setting]["ours"] for r in mine], s=22, color=f"C{i}", label=fam)
            ax.scatter(t, [r[setting]["lut-sum"] for r in mine], s=22, facecolors="none",
                       edgecolors=f"C{i}")  # fmt: skip
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="measured ms")
        ax.set_title(f"{setting} their families (filled: ours, hollow: LUT sum)", fontsize=9)
    axes[0].set_ylabel(f"predicted ms ({backend}, 1 thread)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "litert"))
    ap.add_argument("--out", required=True, help="the LUT file (resumed when it exists)")
    ap.add_argument("--archs", type=int, default=40, help="MnasNet-space whole models")
    ap.add_argument("--networks", default=",".join(MOBILE_NETWORKS))
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot-only", action="store_true", help="redraw the PNG from the results JSON")
    args = ap.parse_args()
    name = f"graph_networks_{args.backend}"
    if args.plot_only:
        figures = json.loads((RESULTS / f"{name}.json").read_text())["figures"]
        plot(RESULTS / f"{name}.png", figures["networks"], args.backend)
        return 0
    names = args.networks.split(",")
    start = time.monotonic()
    truth = measure(args, names)
    rows = predict(args, names, truth)
    figures = table(rows)
    show(figures)
    minutes = (time.monotonic() - start) / 60
    print(f"\n{minutes:.1f} min in all")
    with LutStore.open(args.out, writable=False) as store:
        config = store.backend_config
        lut_rows = store.layer_count()
    write_result(
        name,
        {
            "backend": config,
            "lut_rows": lut_rows,
            "archs": args.archs,
            "runs": args.runs,
            "warmup": args.warmup,
            "resolution": args.resolution,
            "folds": args.folds,
            "minutes": round(minutes, 1),
            "per_family": figures,
            "networks": rows,
        },
    )
    plot(RESULTS / f"{name}.png", rows, args.backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
