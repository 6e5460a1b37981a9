"""Hard-constrained search at MobileNetV2 1.0's measured host latency, then measure the result.

    python benchmarks/search_target.py --predictor out/ort1.predictor \\
        [--budget 48] [--strategy evolution] [--evaluator proxy-train] [--workers 2]

1. T = MobileNetV2 1.0's latency measured on the predictor's backend configuration (the LUT's
   warm-up/runs); kept in ``OUT/target.json`` so a rerun resumes with the same T.
2. A search with the hard reward (α = 0, β = −1) at T, on predicted latency.
3. The chosen (best-reward) architecture is measured on the same backend, interleaved with
   MobileNetV2 (A B A B A B, median of each) so drift on a busy machine hits both alike.
   Target: measured ≤ T, or within ±5% of it.
4. MobileNetV2's score under the same evaluator. Target: the chosen one's is not below it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from lutnas.cli.search_args import parse_options
from lutnas.spaces.arch import Arch
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.space import get_space
from predictor import LatencyPredictor
from profiler.base import host_backend
from profiler.loop import ProfileSettings, measure_steady
from profiler.workloads import arch_workload
from search.evaluators import get_evaluator
from search.latency_model import check_predictor
from search.outputs import best_row, write_outputs
from search.reward import make_reward
from search.session import run_search
from search.strategies import get_strategy

REPEATS = 3  # interleaved measurements of the chosen arch and of MobileNetV2


def _measure(backend, arch: Arch, settings: ProfileSettings) -> float:
    return measure_steady(backend, arch_workload(arch), settings)[0].median_ms


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--predictor", required=True)
    ap.add_argument("--budget", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--strategy", default="evolution", choices=("evolution", "rl", "random"))
    ap.add_argument(
        "--strategy-opt",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="default for evolution: population_size=16, sample_size=4",
    )
    ap.add_argument("--evaluator", default="proxy-train")
    ap.add_argument("--evaluator-opt", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="out/search_target")
    args = ap.parse_args()

    space = get_space("mnasnet")
    predictor = LatencyPredictor.load(args.predictor)
    lut_settings = predictor.lut_settings
    settings = ProfileSettings(
        warmup=int(lut_settings.get("warmup", 10)), runs=int(lut_settings.get("runs", 50))
    )
    mbv2 = get_named_arch("mobilenetv2-1.0")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target_file = out / "target.json"
    cfg = predictor.backend_config
    if target_file.is_file():
        target = json.loads(target_file.read_text())["target_ms"]
        print(f"T = {target:.3f} ms: MobileNetV2 1.0 measured earlier ({target_file})")
    else:
        with host_backend(cfg) as backend:
            target = round(
                statistics.median(_measure(backend, mbv2, settings) for _ in range(REPEATS)), 3
            )
        target_file.write_text(json.dumps({"target_ms": target, "backend_config": cfg}))
        print(
            f"T = {target:.3f} ms: MobileNetV2 1.0 measured on {cfg.get('backend')} "
            f"threads={cfg.get('threads')} (median of {REPEATS} measurements of "
            f"{settings.warmup} warm-up + {settings.runs} runs)"
        )
    predicted_mbv2 = predictor.predict(mbv2)
    print(
        f"    predicted for MobileNetV2 1.0: {predicted_mbv2:.3f} ms "
        f"({100 * (predicted_mbv2 / target - 1):+.1f}% vs measured)"
    )
    if abs(predicted_mbv2 / target - 1) > 0.10:
        print(
            "    WARNING: this host now times MobileNetV2 more than 10% away from what the "
            "predictor expects (load or drift since the LUT was measured); the measured "
            "figures below are only comparable with each other (see the interleaved ratio)"
        )
    check_predictor(predictor, space, target)

    reward = make_reward(target, "hard")
    evaluator = get_evaluator(args.evaluator, **parse_options(args.evaluator_opt, "evaluator"))
    strategy_opts = (
        parse_options(args.strategy_opt, "strategy")
        if args.strategy_opt
        else ({"population_size": 16, "sample_size": 4} if args.strategy == "evolution" else {})
    )
    strategy = get_strategy(args.strategy, space.choice_counts(), args.seed, **strategy_opts)
    start = time.perf_counter()
    outcome = run_search(
        str(out),
        space,
        strategy,
        evaluator,
        predictor,
        reward,
        budget=args.budget,
        batch_size=args.batch_size,
        workers=args.workers,
        announce=True,
    )
    print(
        f"search: {len(outcome.history)} candidates, {time.perf_counter() - start:.0f} s this run"
    )
    write_outputs(
        outcome.history,
        out,
        score_label=evaluator.label,
        is_proxy=evaluator.is_proxy,
        target_ms=target,
        onnx=False,
    )
    best = best_row(outcome.history)
    chosen = Arch.from_json(best.arch_json)

    pairs = []
    with host_backend(cfg) as backend:
        for _ in range(REPEATS):
            pairs.append((_measure(backend, chosen, settings), _measure(backend, mbv2, settings)))
    chosen_ms = statistics.median(p[0] for p in pairs)
    mbv2_now_ms = statistics.median(p[1] for p in pairs)
    ratio = statistics.median(p[0] / p[1] for p in pairs)
    mbv2_score = evaluator.evaluate(mbv2)

    print(f"\nchosen: {chosen.key}")
    print(f"  reward {best.reward:.4f}; {evaluator.label} {best.accuracy:.4f}")
    print(
        f"  latency predicted {best.latency_ms:.3f} ms, measured {chosen_ms:.3f} ms "
        f"(T = {target:.3f} ms; MobileNetV2 re-measured alongside: {mbv2_now_ms:.3f} ms)"
    )
    print(
        f"  measured / T = {chosen_ms / target:.3f}; measured / MobileNetV2 interleaved = "
        f"{ratio:.3f}; prediction error {100 * (best.latency_ms / chosen_ms - 1):+.1f}%"
    )
    ok_latency = chosen_ms <= 1.05 * target
    print(
        f"  latency target (measured <= T or within ±5%): {'met' if ok_latency else 'MISSED'}"
        f" (interleaved ratio {'<= 1.05' if ratio <= 1.05 else '> 1.05'})"
    )
    print(
        f"MobileNetV2 1.0 under the same evaluator: {mbv2_score:.4f}; chosen "
        f"{best.accuracy:.4f} -> {'not below' if best.accuracy >= mbv2_score else 'BELOW'}"
    )


if __name__ == "__main__":
    main()
