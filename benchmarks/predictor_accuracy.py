"""Predictor accuracy against the issue's targets (the evaluation report, plus a verdict).

    # the data: the space's layers and 400 latency-stratified whole models, 1 thread
    profile-device --resolution 160 --resolution 224 --out out/ort1.lut \\
        --whole-models 400 --whole-models-sampling latency --seed 1
    python benchmarks/predictor_accuracy.py --lut out/ort1.lut --measure --repeat 40

``--measure`` first measures the torchvision networks (and the LUT rows they need) and
``--repeat N`` re-measures N held-out models for the ground truth's noise, both on the LUT's
backend configuration, recorded in the LUT so later runs reuse them. Prints the report, each
target with its figure, and every figure of ours as a ratio to the scaled-LUT-sum baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import stamped  # noqa: E402

from predictor.evaluate import (  # noqa: E402
    CURVE_SIZES,
    PREDICTORS,
    evaluate,
    held_out_archs,
    torchvision_graph,
)
from profiler.networks import measure_repeats, measure_torchvision  # noqa: E402


def verdict(report) -> list[str]:
    t, ours = report.test, report.test["ours"]
    lines = ["targets (held-out mnasnet-space archs):"]

    def check(name: str, ok: bool, figure: str) -> None:
        lines.append(f"  [{'met' if ok else 'NOT met'}] {name}: {figure}")

    check("≥ 99% within ±10%", ours["within_10"] >= 0.99, f"{100 * ours['within_10']:.1f}%")
    check("≥ 95% within ±5%", ours["within_5"] >= 0.95, f"{100 * ours['within_5']:.1f}%")
    check("Kendall τ ≥ 0.97", ours["kendall_tau"] >= 0.97, f"{ours['kendall_tau']:.3f}")
    if report.noise:
        noise = report.noise
        ratio = ours["rmspe"] / noise["rms_pct_single"]
        check(
            "RMSPE ≤ 1.5 × repeat noise (RMS)",
            ratio <= 1.5,
            f"{ours['rmspe']:.2f}% vs noise {noise['rms_pct_single']:.2f}% = {ratio:.2f}x",
        )
        robust = ours["rmspe"] / noise["robust_pct_single"]
        check(
            "RMSPE ≤ 1.5 × repeat noise (robust, outliers discounted)",
            robust <= 1.5,
            f"{ours['rmspe']:.2f}% vs {noise['robust_pct_single']:.2f}% = {robust:.2f}x",
        )
    for base in PREDICTORS[:-1]:
        b = t[base]
        better = (
            ours["within_10"] >= b["within_10"]
            and ours["within_5"] >= b["within_5"]
            and ours["rmspe"] <= b["rmspe"]
            and ours["kendall_tau"] >= b["kendall_tau"]
        )
        check(
            f"better than {base} on every figure",
            better,
            f"±10% {100 * ours['within_10']:.1f} vs {100 * b['within_10']:.1f}, "
            f"±5% {100 * ours['within_5']:.1f} vs {100 * b['within_5']:.1f}, "
            f"RMSPE {ours['rmspe']:.2f} vs {b['rmspe']:.2f}, "
            f"τ {ours['kendall_tau']:.3f} vs {b['kendall_tau']:.3f}",
        )
    if report.torchvision:
        inside = [
            n
            for n, r in report.torchvision.items()
            if abs(r["ours"] / r["measured_ms"] - 1) <= 0.10
        ]
        check(
            "every torchvision network within ±10%",
            len(inside) == len(report.torchvision),
            f"{len(inside)}/{len(report.torchvision)}",
        )
    k = t["lut-sum×k"]
    lines += [
        "",
        "ours as a ratio to the scaled LUT sum (lut-sum×k):",
        f"  held-out: ±10% share {ours['within_10'] / k['within_10']:.3f}x, ±5% share "
        f"{ours['within_5'] / max(k['within_5'], 1e-9):.3f}x, RMSPE "
        f"{ours['rmspe'] / k['rmspe']:.3f}x, τ {ours['kendall_tau'] / k['kendall_tau']:.3f}x",
    ]
    if report.torchvision_metrics:
        tk, to = report.torchvision_metrics["lut-sum×k"], report.torchvision_metrics["ours"]
        lines.append(
            f"  torchvision: RMSPE {to['rmspe'] / tk['rmspe']:.3f}x, ±10% share "
            f"{100 * to['within_10']:.0f}% vs {100 * tk['within_10']:.0f}%"
        )
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lut", default=str(ROOT / "out" / "ort1.lut"))
    ap.add_argument(
        "--measure",
        action="store_true",
        help="measure the torchvision networks first (recorded in the LUT)",
    )
    ap.add_argument("--repeat", type=int, default=0, help="re-measure N held-out models first")
    ap.add_argument("--repeat-times", type=int, default=1, help="... K more times each")
    ap.add_argument(
        "--truth",
        choices=("median", "first"),
        default="median",
        help="held-out latency: median of all its measurements, or the first",
    )
    ap.add_argument("--test-fraction", type=float, default=0.25)
    ap.add_argument("--png", default=None, help="default: <lut>.accuracy.png")
    ap.add_argument(
        "--json",
        default=None,
        help="default: <lut>.accuracy.json (the report with the date, machine and command)",
    )
    ap.add_argument("--no-curve", action="store_true")
    args = ap.parse_args()
    start = time.monotonic()
    if args.measure:
        measure_torchvision(args.lut, times=1 + args.repeat_times, layers_of=torchvision_graph)
    if args.repeat:
        held_out = held_out_archs(args.lut, args.repeat, args.test_fraction)
        measure_repeats(args.lut, held_out, args.repeat_times)
    png = args.png or str(Path(args.lut).with_suffix(".accuracy.png"))
    curve = None if args.no_curve else CURVE_SIZES
    report = evaluate(args.lut, args.test_fraction, 0, curve, png, truth=args.truth)
    print(report.text())
    print()
    print("\n".join(verdict(report)))
    out = args.json or str(Path(args.lut).with_suffix(".accuracy.json"))
    Path(out).write_text(json.dumps(stamped(asdict(report)), indent=1, default=float))
    print(f"\nplot: {png}\nfigures: {out}\n({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
