"""``lutnas fit``: fit a latency predictor on a LUT and its whole-model measurements.

lutnas fit --lut host.lut --out host.predictor
"""

from __future__ import annotations

import argparse

from predictor.api import LatencyPredictor


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lut",
        required=True,
        help="LUT file with whole-model rows (profile-device --whole-models N)",
    )
    p.add_argument("--out", required=True, help="predictor directory to write")
    p.add_argument("--seed", type=int, default=0, help="seed of CV folds and XGBoost")
    p.add_argument(
        "--no-layer-estimator",
        action="store_true",
        help="do not fit the per-kind estimator of missing rows",
    )


def run(args: argparse.Namespace) -> int:
    predictor = LatencyPredictor.fit(
        args.lut, seed=args.seed, estimate_missing=not args.no_layer_estimator
    )
    path = predictor.save(args.out)
    t = predictor.meta["training"]
    cv = t["cv"]
    print(
        f"{path}: fitted on {t['measurements']} whole models "
        f"({t['latency_range_ms'][0]:.2f}-{t['latency_range_ms'][1]:.2f} ms"
        + (f"; {t['left_out']} left out, rows missing" if t["left_out"] else "")
        + ")"
    )
    print(
        f"  {cv['folds']}-fold cross-validation: {100 * cv['within_10']:.1f}% within ±10%, "
        f"{100 * cv['within_5']:.1f}% within ±5%, RMSPE {cv['rmspe']:.2f}%, "
        f"90% interval covers {100 * cv['interval_coverage']:.1f}%"
    )
    ratio = t["lut_sum_ratio_median"]
    print(
        f"  measured / LUT sum: median {ratio:.3f} (the plain sum runs "
        f"{100 * abs(ratio - 1):.1f}% {'low' if ratio > 1 else 'high'})"
    )
    return 0
