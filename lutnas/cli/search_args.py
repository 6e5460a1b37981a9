"""What ``lutnas search`` accepts: its arguments, ``KEY=VALUE`` options and count checks
(the command itself is :mod:`lutnas.cli.search`)."""

from __future__ import annotations

import argparse
import json
import os

from lutnas.cli.options import add_resolution_option, add_seed_option, add_space_option
from lutnas.cli_util import bounded
from lutnas.errors import LutnasError
from search.evaluators import list_evaluators
from search.reward import PRESETS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--predictor", required=True, help="predictor directory (lutnas fit)")
    p.add_argument(
        "--target-ms",
        type=bounded(float, 0, above=True),
        required=True,
        metavar="T",
        help="latency target T in ms on the predictor's device and backend",
    )
    p.add_argument(
        "--reward",
        choices=(*PRESETS, "custom"),
        default="soft",
        help="soft: α=β=-0.07; hard: α=0, β=-1; custom: give --alpha and --beta "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--alpha", type=bounded(float, -10, 10), help="reward exponent when LAT <= T (custom)"
    )
    p.add_argument(
        "--beta", type=bounded(float, -10, 10), help="reward exponent when LAT > T (custom)"
    )
    add_space_option(p)
    add_resolution_option(
        p,
        "search only input resolution R (repeatable; default: every resolution of the space), "
        "e.g. only those the predictor was fitted on",
    )
    p.add_argument(
        "--strategy",
        choices=("evolution", "rl", "random"),
        default="evolution",
        help="evolution: regularized evolution; rl: the MnasNet PPO controller; random: "
        "uniform sampling (default: %(default)s)",
    )
    p.add_argument(
        "--strategy-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="strategy option, repeatable (evolution: population_size, "
        "sample_size; rl: batch_size, lr, entropy_coef, ...)",
    )
    p.add_argument(
        "--budget",
        type=int,
        default=200,
        metavar="N",
        help="candidates to tell the strategy (default: %(default)s)",
    )
    p.add_argument(
        "--evaluator",
        choices=list_evaluators(),
        default="proxy-train",
        help="proxy-train: really trains each candidate a few epochs on sklearn digits at "
        "32 px, about 20-60 s per candidate and core (the default budget of 200 on 2 workers: "
        "1-3 hours); zero-cost: a training-free score in well under a second (not an "
        "accuracy); callable: your own function (default: %(default)s)",
    )
    p.add_argument(
        "--evaluator-arg",
        metavar="MODULE:FUNCTION",
        help="for --evaluator callable: evaluate(arch) -> accuracy in [0, 1]",
    )
    p.add_argument(
        "--evaluator-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="evaluator option, repeatable (proxy-train: epochs, dataset, "
        "resolution, limit, ...; zero-cost: batch, ...)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="candidates asked and evaluated in parallel per batch (default: %(default)s)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel evaluations (default: CPU count, at most the batch size; "
        "1 evaluates in this process)",
    )
    p.add_argument(
        "--ray",
        action="store_true",
        help="evaluate on a local Ray instance (pip install 'lutnas[ray]')",
    )
    p.add_argument("--ray-address", metavar="ADDR", help="evaluate on the Ray cluster at ADDR")
    p.add_argument("--out", default="search_out", help="output directory (default: %(default)s)")
    add_seed_option(p, "the strategy")
    p.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="K",
        help="measure the top K on the LUT's backend, print predicted vs measured "
        "(default: %(default)s)",
    )
    phone = p.add_argument_group("--verify on a phone LUT (backend adb)")
    phone.add_argument(
        "--runner",
        metavar="PATH",
        help="the benchmark binary the LUT was measured with (benchmark_model or "
        "onnxruntime_perf_test); with it the top K are timed on the phone",
    )
    phone.add_argument(
        "--serial", help="adb serial of the LUT's phone (where several are attached)"
    )
    phone.add_argument(
        "--cpu-mask", help="taskset hex mask (default: the one the LUT was measured with)"
    )
    p.add_argument("--no-onnx", action="store_true", help="do not export best_arch.onnx")
    p.add_argument(
        "--no-tflite",
        action="store_true",
        help="do not write best_arch.tflite (the phone file, in the predictor's precision)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_options(items: list[str], what: str) -> dict:
    """``["epochs=2", "dataset=digits"]`` -> ``{"epochs": 2, "dataset": "digits"}`` (values
    are JSON when they parse as JSON, text otherwise)."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise LutnasError(f"{what} option {item!r} is not KEY=VALUE")
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text
    return out


MAX_BUDGET = 10_000_000
MAX_BATCH_SIZE = 100_000
MAX_WORKERS = 1024
MAX_VERIFY = 10_000


def check_counts(args: argparse.Namespace) -> int:
    """Parallel workers for ``args``, after checking the counts are in range."""
    for option, value, low, high in (
        ("--budget", args.budget, 1, MAX_BUDGET),
        ("--batch-size", args.batch_size, 1, MAX_BATCH_SIZE),
        ("--verify", args.verify, 0, MAX_VERIFY),
        ("--workers", args.workers, 1, MAX_WORKERS),
    ):
        if value is not None and not low <= value <= high:
            raise LutnasError(f"{option} must be at least {low} and at most {high}, got {value}")
    return args.workers if args.workers is not None else min(os.cpu_count() or 1, args.batch_size)
