"""Predictions across families: one space's data vs every space's data (issue 16).

    # the data, in one session, 1 thread: MnasNet's space at 224, the MobileNetV3 spaces over
    # their resolutions (small networks such as mobilenet_v3_small need the low ones)
    R="--resolution 128 --resolution 160 --resolution 192 --resolution 224"
    lutnas profile-device --resolution 224 --out out/both_ort.lut \\
        --whole-models 120 --whole-models-sampling latency --seed 2
    lutnas profile-device --space mobilenetv3 $R --out out/both_ort.lut \\
        --whole-models 120 --whole-models-sampling latency --seed 2
    lutnas profile-device --space mobilenetv3-small $R --out out/both_ort.lut \\
        --whole-models 40 --whole-models-sampling latency --seed 2
    python benchmarks/cross_family.py --lut out/both_ort.lut --measure 3

Each space's whole models are split the same way as ``predictor/evaluate.py`` splits them (a
hash of the architecture key, 25 % held out). One predictor is fitted per space on its training
split, and one on every space's training splits together ("all"). Printed: each space's
held-out figures with its own-space predictor and with "all", and the torchvision networks of
``predictor/evaluate.py`` (measured on the LUT's backend with ``--measure N``, recorded in the
LUT) with the mnasnet-only predictor and with "all", each with its out-of-distribution flag.
Writes ``benchmarks/results/cross_family_<backend>.json`` and a PNG beside the LUT.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _results import RESULTS, write_result  # noqa: E402

from lut.store import LutStore  # noqa: E402
from lutnas.spaces.arch import Arch  # noqa: E402
from predictor import LatencyPredictor  # noqa: E402
from predictor.evaluate import (  # noqa: E402
    TORCHVISION,
    metrics,
    split,
    torchvision_graph,
    torchvision_layers,
)
from profiler.networks import measure_torchvision, torchvision_measurements  # noqa: E402


def held_out(pred: LatencyPredictor, frame: pd.DataFrame) -> tuple[dict, np.ndarray]:
    archs = [Arch.from_json(j) for j in frame["arch_json"]]
    ms = pred.predict_many(archs)
    figures = metrics(ms, frame["median_ms"].to_numpy())
    figures["ood"] = int(sum(pred.predict_detail(a).out_of_distribution for a in archs))
    return figures, ms


def torchvision_table(preds: dict[str, LatencyPredictor], measured: dict) -> dict[str, dict]:
    rows = {}
    for name, m in measured.items():
        res = int(m.get("resolution", 224))
        specs = torchvision_layers(name, res)
        true = float(np.median([m["median_ms"], *m.get("repeats_ms", [])]))
        row = {"measured_ms": true}
        for label, p in preds.items():
            d = p.predict_detail(specs, res)
            row[label] = {
                "ms": d.latency_ms,
                "error_pct": 100 * (d.latency_ms / true - 1),
                "ood": bool(d.out_of_distribution),
            }
        rows[name] = row
    return rows


def plot(path: Path, tests: dict, tv: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    allv = [v for t in tests.values() for v in (*t["true"], *t["pred"])]
    allv += [r["measured_ms"] for r in tv.values()] + [r["all"]["ms"] for r in tv.values()]
    lo, hi = 0.8 * min(allv), 1.2 * max(allv)
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.fill_between([lo, hi], [0.9 * lo, 0.9 * hi], [1.1 * lo, 1.1 * hi], color="0.9")
    for space, t in tests.items():
        ax.scatter(t["true"], t["pred"], s=8, label=f"held-out {space}")
    ax.scatter(
        [r["measured_ms"] for r in tv.values()],
        [r["all"]["ms"] for r in tv.values()],
        s=30,
        marker="x",
        color="C3",
        label="torchvision",
    )
    for name, r in tv.items():
        ax.annotate(name, (r["measured_ms"], r["all"]["ms"]), fontsize=6)
    ax.set(xlabel="measured ms", ylabel="predicted ms (every space's data)", xscale="log")
    ax.set(yscale="log", xlim=(lo, hi), ylim=(lo, hi), title="one predictor, two families")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lut", required=True)
    ap.add_argument("--measure", type=int, default=0, metavar="N", help="measure torchvision N×")
    ap.add_argument("--test-fraction", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default=None, help="results file name (default: from backend)")
    args = ap.parse_args()

    if args.measure:
        measure_torchvision(
            args.lut, TORCHVISION, times=args.measure, progress=True, layers_of=torchvision_graph
        )
    with LutStore.open(args.lut) as store:
        models, backend = store.models_frame(), store.backend_config
        measured = torchvision_measurements(store.meta)
        spaces = sorted(set(models["space"]))
        parts = {s: split(models[models["space"] == s], args.test_fraction) for s in spaces}
        for s, (train, test) in parts.items():
            print(f"{s}: {len(train)} training, {len(test)} held-out whole models")
        preds = {s: LatencyPredictor.fit(store, parts[s][0], seed=args.seed) for s in spaces}
        every = pd.concat([parts[s][0] for s in spaces])
        preds["all"] = LatencyPredictor.fit(store, every, seed=args.seed)

    figures: dict = {"backend": backend, "held_out": {}, "torchvision": {}}
    tests = {}
    for s in spaces:
        test = parts[s][1]
        own, own_ms = held_out(preds[s], test)
        alls, all_ms = held_out(preds["all"], test)
        figures["held_out"][s] = {"n": len(test), "own_space": own, "all_spaces": alls}
        tests[s] = {"true": test["median_ms"].tolist(), "pred": all_ms.tolist()}
        print(
            f"held-out {s} ({len(test)}): ±10% {100 * own['within_10']:.1f}% own-space vs "
            f"{100 * alls['within_10']:.1f}% all ({alls['within_10'] / own['within_10']:.2f}×); "
            f"RMSPE {own['rmspe']:.2f}% vs {alls['rmspe']:.2f}% "
            f"({alls['rmspe'] / own['rmspe']:.2f}×); τ {own['kendall_tau']:.3f} vs "
            f"{alls['kendall_tau']:.3f}; out of distribution {own['ood']} vs {alls['ood']}"
        )
    if measured:
        tv = torchvision_table({"mnasnet": preds["mnasnet"], "all": preds["all"]}, measured)
        figures["torchvision"] = tv
        print(f"{'torchvision':<20} {'measured':>9}  {'mnasnet data':>17}  {'all spaces':>17}")
        for name, r in tv.items():
            cells = [
                f"{r[k]['error_pct']:+6.1f}% {'OOD' if r[k]['ood'] else 'in ':>3}"
                for k in ("mnasnet", "all")
            ]
            print(f"{name:<20} {r['measured_ms']:8.2f}ms  {cells[0]:>17}  {cells[1]:>17}")
        for k in ("mnasnet", "all"):
            within = sum(abs(r[k]["error_pct"]) <= 10 for r in tv.values())
            inside = sum(not r[k]["ood"] for r in tv.values())
            figures[f"torchvision_{k}"] = {"within_10": within, "in_distribution": inside}
            print(f"  {k}: {within}/{len(tv)} within ±10%, {inside}/{len(tv)} in distribution")
        goal = all(abs(r["all"]["error_pct"]) <= 10 and not r["all"]["ood"] for r in tv.values())
        print(
            f"[{'met' if goal else 'NOT met'}] every torchvision network ±10% and in-distribution"
        )
    for s in spaces:
        h = figures["held_out"][s]
        ok = h["all_spaces"]["within_10"] >= h["own_space"]["within_10"]
        print(f"[{'met' if ok else 'NOT met'}] {s} held-out ±10% share with all ≥ with its own")
    name = args.name or f"cross_family_{backend.get('backend', 'host')}"
    write_result(name, figures)
    png = RESULTS / f"{name}.png"
    plot(png, tests, figures.get("torchvision", {}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
