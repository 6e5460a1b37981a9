"""``lutnas fit``: fit a latency predictor on a LUT and its whole-model measurements.

lutnas fit --lut host.lut --out host.predictor
lutnas fit --lut target.lut --prior host.predictor --out target.predictor   # calibrate
"""

from __future__ import annotations

import argparse

from lutnas.cli.options import add_seed_option, add_space_file_option, load_spaces


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lut",
        required=True,
        help="LUT file with whole-model rows (profile-device --whole-models N)",
    )
    p.add_argument("--out", required=True, help="predictor directory to write")
    add_seed_option(p, "CV folds and XGBoost")
    p.add_argument(
        "--prior",
        metavar="SOURCE.predictor",
        help="calibrate this predictor of another device with the LUT's whole models instead of "
        "fitting a new one (a LUT of a few whole models: profile-device --whole-models N "
        "--no-layers); see docs/calibrating.md",
    )
    add_space_file_option(p, "the LUT's whole models")
    p.add_argument(
        "--no-layer-estimator",
        action="store_true",
        help="do not fit the per-kind estimator of missing rows",
    )
    p.add_argument(
        "--networks",
        metavar="NAMES",
        help="fit only on these of the torchvision networks the LUT timed "
        "(profile-device --whole-models-include), comma-separated; 'none' for none "
        "(default: all it timed)",
    )


def run(args: argparse.Namespace) -> int:
    from lut.store import LutStore
    from predictor import persistence
    from predictor.api import LatencyPredictor  # torch, xgboost: only when fitting
    from profiler.precision import identity_label
    from profiler.quality import assess_store, quality_lines

    persistence.check_out(args.out)  # an unwritable --out is found before the fit, not after
    load_spaces(args.space)
    if args.prior:
        return _calibrate(args)
    networks = None
    if args.networks is not None:
        networks = [] if args.networks == "none" else args.networks.split(",")
    predictor = LatencyPredictor.fit(
        args.lut,
        seed=args.seed,
        estimate_missing=not args.no_layer_estimator,
        networks=networks,
    )
    path = predictor.save(args.out)
    t = predictor.meta["training"]
    cv = t["cv"]
    nets = t.get("networks") or []
    print(
        f"{path}: fitted on {t['measurements']} whole models "
        f"({t['latency_range_ms'][0]:.2f}-{t['latency_range_ms'][1]:.2f} ms"
        + (f"; {t['left_out']} left out, rows missing" if t["left_out"] else "")
        + ")"
        + (f", {len(nets)} of them torchvision networks: {', '.join(nets)}" if nets else "")
    )
    print(f"  precision: {identity_label(predictor.backend_config)} (the LUT's)")
    print(
        f"  {cv['folds']}-fold cross-validation: {100 * cv['within_10']:.1f}% within ±10%, "
        f"{100 * cv['within_5']:.1f}% within ±5%, RMSPE {cv['rmspe']:.2f}%, "
        f"90% interval covers {100 * cv['interval_coverage']:.1f}%"
    )
    moved = predictor.meta["lut"].get("transferred")
    if moved:
        print(
            f"  {moved['rows']} of the LUT's {predictor.meta['lut']['rows']} rows are transferred "
            f"from {moved['source']['path']} by a map fitted on {moved['pairs']} measured layers "
            "(not measured here)"
        )
    ratio = t["lut_sum_ratio_median"]
    print(
        f"  measured / LUT sum: median {ratio:.3f} (the plain sum runs "
        f"{100 * abs(ratio - 1):.1f}% {'low' if ratio > 1 else 'high'})"
    )
    with LutStore.open(args.lut, writable=False) as store:  # the LUT's own quality
        quality = assess_store(store)
        runs = store.meta["settings"]["runs"]
    lines = quality_lines(quality, str(args.lut), runs, "    ")
    print(f"  the LUT {args.lut}:")
    print("\n".join(lines))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from lut.store import LutStore
    from predictor.api import LatencyPredictor
    from predictor.calibrated import calibrate_from_lut

    target = calibrate_from_lut(LatencyPredictor.load(args.prior), args.lut)
    path = target.save(args.out)
    print(f"{path}: {args.prior} {target.describe()}")
    with LutStore.open(args.lut, writable=False) as store:
        layers = store.layer_count()
    if layers:  # measurements the calibration leaves unused
        print(
            f"  {args.lut} also holds {layers} layer rows of the target, which --prior does not "
            f"use; without --prior, lutnas fit predicts from them (docs/calibrating.md: which "
            f"is better for how many whole models)"
        )
    return 0
