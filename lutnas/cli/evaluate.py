"""``lutnas evaluate``: the accuracy report (four predictors, held-out and torchvision networks).

    lutnas evaluate --lut host.lut --png report.png
    lutnas evaluate --lut host.lut --measure-torchvision --repeat 40   # measure what it needs

Fits on a deterministic split of the LUT's whole-model rows and reports on the rest.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from lutnas.atomicfile import write_text
from lutnas.cli.options import add_seed_option
from lutnas.cli_util import bounded, output_file
from lutnas.errors import LutnasError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lut", required=True, help="LUT file with whole-model rows")
    p.add_argument(
        "--test-fraction",
        type=bounded(float, 0, 0.9, above=True),
        default=0.25,
        help="share of the whole models held out (by a hash of their key; default: %(default)s)",
    )
    add_seed_option(p, "the fits")
    p.add_argument("--png", help="write the predicted-vs-measured plot here")
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON here")
    p.add_argument("--no-curve", action="store_true", help="skip the learning curve")
    p.add_argument(
        "--measure-torchvision",
        action="store_true",
        help="first measure the torchvision networks (and their rows) on this "
        "machine with the LUT's backend; recorded in the LUT",
    )
    p.add_argument(
        "--repeat",
        type=bounded(int, 0, 100_000),
        default=0,
        metavar="N",
        help="first re-measure N held-out models, for the ground truth's noise "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--repeat-times",
        type=bounded(int, 1, 100),
        default=1,
        metavar="K",
        help="with --repeat: measure each of the N models K more times (passes minutes "
        "apart; default: %(default)s)",
    )
    p.add_argument(
        "--truth",
        choices=("median", "first"),
        default="median",
        help="a held-out model's latency: the median of all its measurements, or the first "
        "(default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from predictor.evaluate import CURVE_SIZES, evaluate, held_out_archs, torchvision_graph
    from profiler.networks import measure_repeats, measure_torchvision

    if args.repeat_times < 1 or args.repeat < 0:
        raise LutnasError("--repeat must be at least 0 and --repeat-times at least 1")
    for option, target in (("--json", args.json), ("--png", args.png)):
        if target:  # before the work, not after it
            output_file(target, option)
    if args.measure_torchvision:
        done = measure_torchvision(
            args.lut, times=1 + args.repeat_times, layers_of=torchvision_graph
        )
        print(f"torchvision networks measured ({len(done)}) and recorded in {args.lut}")
    if args.repeat:
        held_out = held_out_archs(args.lut, args.repeat, args.test_fraction)
        measure_repeats(args.lut, held_out, args.repeat_times)
        print(f"{len(held_out)} held-out models re-measured, recorded in {args.lut}")
    curve = None if args.no_curve else CURVE_SIZES
    report = evaluate(args.lut, args.test_fraction, args.seed, curve, args.png, truth=args.truth)
    print(report.text())
    if args.png:
        print(f"predicted-vs-measured plot written to {args.png}")
    if args.json:
        write_text(args.json, json.dumps(asdict(report), indent=1, default=float))
        print(f"figures written to {args.json}")
    return 0
