"""``lutnas search``: MnasNet-style architecture search on *predicted* latency (no device).

    lutnas search --predictor host.predictor --target-ms 12 --budget 200 \\
        --strategy evolution --evaluator zero-cost --out search_out
    lutnas search --predictor host.predictor --target-ms 12 --reward hard --strategy rl \\
        --evaluator proxy-train --evaluator-opt epochs=2 --workers 2 --verify 3
    lutnas search ... --ray                       # evaluations on a local Ray instance
    lutnas search ... --resolution 224            # only the resolutions the predictor saw
    lutnas search ... --evaluator callable --evaluator-arg mypkg.train:accuracy

Every evaluated candidate is saved in OUT/search.sqlite as it finishes; run the same command
again to resume after an interruption (nothing is evaluated twice), or with a larger --budget
to extend a finished search. Outputs: OUT/pareto.{csv,json,png}, OUT/best_arch.{json,onnx},
OUT/candidates.csv, OUT/summary.json (see search/outputs.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

from cli.options import add_space_option
from lutnas.cli_util import bounded
from lutnas.errors import LutnasError
from search.evaluators import AccuracyEvaluator, get_evaluator, list_evaluators
from search.reward import PRESETS, make_reward
from search.strategies import get_strategy
from search.strategies.restricted import RestrictedResolutions, check_resolutions
from spaces.space import get_space


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
    p.add_argument(
        "--resolution",
        type=bounded(int, 32, 2048),
        action="append",
        metavar="R",
        help="search only input resolution R (repeatable; default: every resolution of the "
        "space), e.g. only those the predictor was fitted on",
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
    p.add_argument(
        "--seed",
        type=bounded(int, 0),
        default=0,
        help="seed of the strategy (default: %(default)s)",
    )
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


def build_evaluator(name: str, target: str | None, options: dict) -> AccuracyEvaluator:
    """The evaluator ``name`` with ``options``; ``target`` is the callable's MODULE:FUNCTION.

    Raises:
        LutnasError: a missing or misplaced target, an unknown option, an unloadable target.
    """
    if name == "callable":
        if not target:
            raise LutnasError("--evaluator callable needs --evaluator-arg MODULE:FUNCTION")
        options = {**options, "fn": target}
    elif target:
        raise LutnasError(f"--evaluator-arg is for --evaluator callable, not {name!r}")
    return get_evaluator(name, **options)


def _check_counts(args: argparse.Namespace) -> int:
    if args.budget < 1:
        raise LutnasError(f"--budget must be at least 1, got {args.budget}")
    if args.batch_size < 1:
        raise LutnasError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.verify < 0:
        raise LutnasError(f"--verify must be 0 or more, got {args.verify}")
    workers = (
        args.workers if args.workers is not None else min(os.cpu_count() or 1, args.batch_size)
    )
    if workers < 1:
        raise LutnasError(f"--workers must be at least 1, got {workers}")
    return workers


def run(args: argparse.Namespace) -> int:
    from predictor import LatencyPredictor
    from search.latency_model import check_predictor
    from search.outputs import ranked, write_outputs
    from search.session import run_search

    workers = _check_counts(args)
    space = get_space(args.space)
    searched = space
    if args.resolution:
        resolutions = check_resolutions(space, args.resolution)
        searched = dataclasses.replace(space, resolutions=resolutions)
    reward = make_reward(args.target_ms, args.reward, args.alpha, args.beta)
    predictor = LatencyPredictor.load(args.predictor)
    check_predictor(predictor, searched, reward.target_ms)
    _hint_resolutions(predictor, searched, args.resolution)
    evaluator = build_evaluator(
        args.evaluator, args.evaluator_arg, parse_options(args.evaluator_opt, "evaluator")
    )
    strategy = get_strategy(
        args.strategy,
        searched.choice_counts(),
        args.seed,
        **parse_options(args.strategy_opt, "strategy"),
    )
    if searched is not space:  # the runner decodes tokens with the full space (see there)
        strategy = RestrictedResolutions(strategy, space, searched.resolutions)
    start = time.perf_counter()
    result = run_search(
        args.out,
        space,
        strategy,
        evaluator,
        predictor,
        reward,
        budget=args.budget,
        batch_size=args.batch_size,
        workers=workers,
        use_ray=args.ray,
        ray_address=args.ray_address,
        progress=not args.no_progress,
        announce=True,
    )
    history, timing = result.history, result.batches
    summary = {
        "config": result.config,
        "predictor_path": str(args.predictor),
        "seconds_this_run": round(time.perf_counter() - start, 3),
        "seconds_total": round(sum(t.seconds for t in timing), 3),
        "eval_seconds_total": round(sum(t.eval_seconds for t in timing), 3),
        "predict_seconds_total": round(sum(t.predict_seconds for t in timing), 3),
    }
    paths = write_outputs(
        history,
        args.out,
        score_label=evaluator.label,
        is_proxy=evaluator.is_proxy,
        target_ms=reward.target_ms,
        summary=summary,
        onnx=not args.no_onnx,
    )
    _print_results(
        history,
        paths,
        result.report,
        evaluator,
        reward.target_ms,
        predictor.latency_range_ms,
    )
    if args.verify:
        from search.verify import format_table, verify_top

        print(
            f"verifying the top {args.verify} on "
            f"{predictor.backend_config.get('backend')} (the LUT's backend) ..."
        )
        rows = verify_top(
            ranked(history),
            args.verify,
            predictor.backend_config,
            predictor.lut_settings,
            args.out,
            predictor.drift_reference,
            phone={"runner": args.runner, "serial": args.serial, "cpu_mask": args.cpu_mask},
        )
        print(format_table(rows, reward.target_ms))
    return 0


def _hint_resolutions(predictor, searched, asked: list[int] | None) -> None:
    """Name the option that avoids resolutions the predictor never saw."""
    seen = set(predictor.training_resolutions or ())
    if seen and not asked and set(searched.resolutions) - seen:
        flags = " ".join(f"--resolution {r}" for r in searched.resolutions if r in seen)
        if flags:
            print(f"  to search only what the predictor was fitted on: {flags}")


def _print_results(
    history,
    paths,
    report,
    evaluator: AccuracyEvaluator,
    target_ms: float,
    latency_range_ms: tuple[float, float] | None,
) -> None:
    from search.outputs import best_row, front, score_column

    if report is not None:
        print(
            f"{report.tells_this_run} candidates in {report.seconds:.1f} s "
            f"({report.candidates_per_second:.2f}/s): {report.fresh_evaluations} evaluated, "
            f"{report.reused} reused, {report.failed_evaluations} failed; latency "
            f"prediction {report.predict_seconds:.2f} s, evaluation {report.eval_seconds:.1f} s"
        )
    best = best_row(history)
    if best is None:
        print("no candidate was evaluated successfully; see the warnings above")
        return
    score = "score" if evaluator.is_proxy else "accuracy"
    print(
        f"best: reward {best.reward:.4f}, {score} {best.accuracy:.4f}, predicted "
        f"{best.latency_ms:.3f} ms (T {target_ms:g} ms)\n      {best.arch_key}"
    )
    if latency_range_ms and not latency_range_ms[0] <= best.latency_ms <= latency_range_ms[1]:
        print(
            f"  note: {best.latency_ms:.3f} ms is outside the latencies the predictor was "
            f"fitted on ({latency_range_ms[0]:.3f}-{latency_range_ms[1]:.3f} ms): an "
            "extrapolation; check it with --verify K"
        )
    print(
        f"Pareto front: {len(front(history))} architectures -> {paths.pareto_csv}, "
        f"{paths.pareto_json.name}, {paths.pareto_png.name}"
    )
    print(
        f"best architecture: {paths.best_json}"
        + (f", {paths.best_onnx.name}" if paths.best_onnx else "")
    )
    print(
        f"  rebuild it in torch: Arch.from_json(Path({str(paths.best_json)!r}).read_text())"
        ".build()  (from spaces.arch import Arch)"
    )
    out = paths.candidates_csv.parent
    print(
        f"also in {out}: {paths.candidates_csv.name} (every candidate), "
        f"{paths.summary_json.name}, README.txt, and the record search.sqlite"
    )
    if evaluator.is_proxy:
        print(
            "  note: the zero-cost score ranks networks; it is not an accuracy (the "
            f"{score_column(True)} column)"
        )
