"""What ``profile-device`` accepts: its options, their defaults and bounds, and their help
(:mod:`lutnas.cli.profile` runs it)."""

from __future__ import annotations

import argparse

from lutnas.cli.adb import add_adb_arguments
from lutnas.cli.options import (
    add_resolution_option,
    add_seed_option,
    add_space_option,
)
from lutnas.cli.precision import add_precision_arguments
from lutnas.cli.transfer import add_transfer_arguments
from lutnas.cli_util import bounded
from lutnas.spaces.named import list_named_archs
from profiler.base import list_backends
from profiler.loop import ProfileSettings
from profiler.torchvision_nets import FAMILIES

MAX_WHOLE_MODELS = 10_000  # a run's whole models; sampling them (a dry run too) takes ~1 s per 700


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        default="onnxruntime",
        help=f"where to time: {', '.join(list_backends())} (default: %(default)s)",
    )
    add_space_option(p)
    add_resolution_option(
        p,
        "input resolution (repeatable; default 224, or the space's largest when it does not "
        "search 224)",
    )
    p.add_argument("--out", help="LUT file (default: <backend>.lut); resumed when it exists")
    p.add_argument(
        "--no-resume", action="store_true", help="refuse to continue an existing --out file"
    )
    p.add_argument(
        "--archs", metavar="FILE.json", help="profile only the layers these architectures need"
    )
    p.add_argument(
        "--arch",
        action="append",
        default=[],
        help="named architecture to profile the layers of: " + ", ".join(list_named_archs()),
    )
    p.add_argument(
        "--limit",
        type=bounded(int, 1, 10_000_000),
        help="profile at most N layers (a seeded random subset; default: all)",
    )
    p.add_argument(
        "--fill-models",
        action="store_true",
        help="profile only the layers the --out file's whole models need and it "
        "lacks (so lutnas fit can use every one of them)",
    )
    p.add_argument(
        "--no-layers",
        action="store_true",
        help="time only the --whole-models N, no layers: a few measurements of a new device "
        "to calibrate a predictor with (lutnas fit --prior)",
    )
    p.add_argument(
        "--whole-models",
        type=bounded(int, 0, MAX_WHOLE_MODELS),
        default=0,
        metavar="N",
        help="also time N random whole architectures (the predictor's training data; at most "
        f"{MAX_WHOLE_MODELS:,} per run: run again with another --seed for more; "
        "default: %(default)s)",
    )
    p.add_argument(
        "--whole-models-include",
        metavar="NAMES",
        help="also time these torchvision networks whole, with their layers, so lutnas fit "
        "learns the families you care about: comma-separated names or families "
        f"({', '.join(FAMILIES)}), e.g. resnet18,shufflenet_v2_x1_0 (random weights, "
        "nothing is downloaded)",
    )
    p.add_argument(
        "--whole-models-sampling",
        choices=("uniform", "latency"),
        default="uniform",
        help="uniform: random archs; latency: spread evenly over the LUT-sum range "
        "(needs the space's layers in the LUT; see profiler.training_data; default: %(default)s)",
    )
    p.add_argument(
        "--warmup",
        type=bounded(int, 0, 10_000),
        default=ProfileSettings.warmup,
        help="untimed runs before each measurement (default: %(default)s)",
    )
    p.add_argument(
        "--runs",
        type=bounded(int, 1, 100_000),
        default=ProfileSettings.runs,
        help="timed runs per measurement; the median is kept (default: %(default)s)",
    )
    add_precision_arguments(p)
    p.add_argument(
        "--threads",
        type=bounded(int, 1, 256),
        default=1,
        help="threads the backend may use (default: %(default)s)",
    )
    p.add_argument(
        "--ci-tolerance",
        type=bounded(float, 0, above=True),
        default=ProfileSettings.ci_tolerance,
        metavar="FRACTION",
        help="measure a row again (up to 3 times in all, keeping the best) while the 95%% "
        "confidence interval of its median is wider than +/- this fraction of the median "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--cv-threshold",
        type=bounded(float, 0, above=True),
        default=ProfileSettings.cv_threshold,
        help="also measure a row again while its robust CV ((p90-p10)/(2.56 median)) is above "
        "this (the rule before --ci-tolerance; default: off)",
    )
    p.add_argument(
        "--reference-every",
        type=bounded(int, 0, 10_000_000),
        default=ProfileSettings.reference_every,
        help="re-time the reference layer every N rows to detect drift (0: never; "
        "default: %(default)s)",
    )
    p.add_argument(
        "--no-drift-correction",
        action="store_true",
        help="host backends: do not time each row alongside a reference and rescale "
        "it to the calibrated speed (see profiler.reference)",
    )
    p.add_argument(
        "--export-workers",
        type=bounded(int, 0, 256),
        metavar="N",
        help="processes writing the next layers' model files while the pinned core times "
        "(default: one per core not pinned for timing; 0: each in turn on the timing core)",
    )
    add_seed_option(p, "the order and of random archs")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print how many unique layers there are per resolution, time nothing",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_transfer_arguments(p)
    add_adb_arguments(p)
