"""``lutnas search``: MnasNet-style architecture search on *predicted* latency (no device).

    lutnas search --predictor host.predictor --target-ms 12 --budget 200 \\
        --strategy evolution --evaluator zero-cost --out search_out
    lutnas search --predictor host.predictor --target-ms 12 --reward hard --strategy rl \\
        --evaluator proxy-train --evaluator-opt epochs=2 --workers 2 --verify 3
    lutnas search ... --ray                       # evaluations on a local Ray instance
    lutnas search ... --resolution 224            # only the resolutions the predictor saw
    lutnas search ... --evaluator callable --evaluator-arg mypkg.train:accuracy
    lutnas search --space my_space.toml ...       # your own space (docs/spaces.md)

Every evaluated candidate is saved in OUT/search.sqlite as it finishes; run the same command
again to resume after an interruption (nothing is evaluated twice), or with a larger --budget
to extend a finished search. Outputs: OUT/pareto.{csv,json,png}, OUT/best_arch.{json,onnx},
OUT/candidates.csv, OUT/summary.json (see search/outputs.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from lutnas.cli.phone_file import phone_file_line, phone_file_settings
from lutnas.cli.search_args import (
    add_arguments as add_arguments,  # cli.main builds the parser with it
)
from lutnas.cli.search_args import check_counts, parse_options
from lutnas.errors import LutnasError
from lutnas.spaces.spacefile import load_space
from search.evaluators import AccuracyEvaluator, get_evaluator
from search.reward import make_reward
from search.strategies import get_strategy
from search.strategies.restricted import RestrictedResolutions, check_resolutions


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


def run(args: argparse.Namespace) -> int:
    from predictor import LatencyPredictor
    from search.latency_model import check_predictor
    from search.outputs import ranked, write_outputs
    from search.session import run_search

    workers = check_counts(args)
    space = load_space(args.space)
    searched = space
    if args.resolution:
        resolutions = check_resolutions(space, args.resolution)
        searched = dataclasses.replace(space, resolutions=resolutions)
    reward = make_reward(args.target_ms, args.reward, args.alpha, args.beta)
    predictor = LatencyPredictor.load(args.predictor)
    check_predictor(predictor, searched, reward.target_ms)
    _hint_resolutions(predictor, searched, args.resolution)
    phone = {"runner": args.runner, "serial": args.serial, "cpu_mask": args.cpu_mask}
    if args.verify and args.runner and predictor.backend_config.get("backend") == "adb":
        from search.verify import check_phone

        check_phone(predictor.backend_config, phone)  # before the search, not after it
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
    phone_file = None if args.no_tflite else phone_file_settings(predictor.backend_config)
    if phone_file:
        summary["phone_file"] = {**phone_file, "file": "best_arch.tflite"}
    paths = write_outputs(
        history,
        args.out,
        score_label=evaluator.label,
        is_proxy=evaluator.is_proxy,
        target_ms=reward.target_ms,
        summary=summary,
        onnx=not args.no_onnx,
        predict_detail=predictor.predict_detail,
        tflite_precision=phone_file["precision"] if phone_file else None,
    )
    _print_results(history, paths, result.report, evaluator, reward.target_ms, predictor)
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
            phone=phone,
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
    predictor,
) -> None:
    from search.caveats import caveats_of
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
    _print_extrapolation(best, caveats_of([best], predictor.predict_detail), predictor)
    print(
        f"Pareto front: {len(front(history))} architectures -> {paths.pareto_csv}, "
        f"{paths.pareto_json.name}, {paths.pareto_png.name}"
    )
    print(
        f"best architecture: {paths.best_json}"
        + (f", {paths.best_onnx.name}" if paths.best_onnx else "")
    )
    if paths.best_tflite:
        print(phone_file_line(paths.best_tflite, predictor.backend_config))
    print(
        f"  rebuild it in torch: Arch.from_json(Path({str(paths.best_json)!r}).read_text())"
        ".build()  (from lutnas.spaces.arch import Arch)"
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


def _print_extrapolation(best, caveats: dict, predictor) -> None:
    """Say when the best's predicted latency is an extrapolation, why, and what to do."""
    caveat = caveats.get(best.arch_key)
    low_high = predictor.latency_range_ms
    why = []
    if caveat is not None and caveat.extrapolated:
        why.append(caveat.describe())
    if low_high and not low_high[0] <= best.latency_ms <= low_high[1]:
        why.append(
            f"{best.latency_ms:.3f} ms is outside the latencies fitted on "
            f"({low_high[0]:.3f}-{low_high[1]:.3f} ms)"
        )
    if not why:
        return
    print("  note: this prediction extrapolates (best_extrapolated in summary.json):")
    for reason in why:
        print(f"    {reason}")
    from lutnas.spaces.arch import Arch

    seen = predictor.training_resolutions
    advice = "    measure it with --verify K"
    if seen and Arch.from_json(best.arch_json).resolution not in seen:
        flags = " ".join(f"--resolution {r}" for r in seen)
        advice += f", or search only what it was fitted on: {flags}"
    print(advice)
