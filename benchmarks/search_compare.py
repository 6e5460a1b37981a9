"""Evolution and the RL controller against random search on equal budgets.

    python benchmarks/search_compare.py --predictor out/ort1.predictor \\
        [--budget 200] [--seeds 3] [--evaluator zero-cost] [--reward soft] [--target-ms T]

Every strategy runs with the same evaluator, predictor, reward, budget and batch size, once per
seed; each run is a resumable record under ``--out`` (rerunning the script continues, and runs
already complete are only read). Printed per run: best reward and the Pareto hypervolume of
(score ↑, predicted latency ↓); then, per seed and as the mean over seeds, the ratios of
evolution's and RL's figures to random search's (> 1: better than random).

The hypervolume's reference point is common to all runs: the lowest score and the highest
predicted latency any run met (every candidate of every run inside or on the box), so the
ratios compare equal areas. T defaults to the predicted latency of MobileNetV2 1.0.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from lutnas.spaces.named import get_named_arch
from lutnas.spaces.space import get_space
from predictor import LatencyPredictor
from search.evaluators import get_evaluator
from search.latency_model import check_predictor
from search.outputs import best_row, distinct_successful, hypervolume
from search.reward import make_reward
from search.session import run_search
from search.strategies import get_strategy

STRATEGIES = ("random", "evolution", "rl")


def _options(text: list[str]) -> dict:
    from lutnas.cli.search_args import parse_options

    return parse_options(text, "strategy")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--predictor", required=True)
    ap.add_argument("--target-ms", type=float, help="default: MobileNetV2 1.0's prediction")
    ap.add_argument("--reward", default="soft", choices=("soft", "hard"))
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--evaluator", default="zero-cost")
    ap.add_argument("--evaluator-opt", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument(
        "--evolution-opt", action="append", default=["population_size=20", "sample_size=5"]
    )
    ap.add_argument("--rl-opt", action="append", default=["batch_size=8", "lr=0.01"])
    ap.add_argument("--out", default="out/search_compare")
    args = ap.parse_args()

    from lutnas.cli.search_args import parse_options

    space = get_space("mnasnet")
    predictor = LatencyPredictor.load(args.predictor)
    target = args.target_ms or round(predictor.predict(get_named_arch("mobilenetv2-1.0")), 3)
    check_predictor(predictor, space, target)
    reward = make_reward(target, args.reward)
    evaluator = get_evaluator(args.evaluator, **parse_options(args.evaluator_opt, "evaluator"))
    opts = {"random": {}, "evolution": _options(args.evolution_opt), "rl": _options(args.rl_opt)}
    print(
        f"T={target:g} ms, reward {args.reward}, budget {args.budget}, batches of "
        f"{args.batch_size}, {evaluator.label} [{evaluator.name}], seeds 0..{args.seeds - 1}; "
        f"options {opts}"
    )

    histories: dict[tuple[str, int], list] = {}
    for seed in range(args.seeds):
        for name in STRATEGIES:
            start = time.perf_counter()
            strategy = get_strategy(name, space.choice_counts(), seed, **opts[name])
            outcome = run_search(
                str(Path(args.out) / f"{name}-seed{seed}"),
                space,
                strategy,
                evaluator,
                predictor,
                reward,
                budget=args.budget,
                batch_size=args.batch_size,
                workers=args.workers,
                progress=False,
            )
            histories[name, seed] = outcome.history
            print(f"  ran {name} seed {seed} in {time.perf_counter() - start:.0f} s", flush=True)

    every = [r for h in histories.values() for r in distinct_successful(h)]
    ref_acc = min(r.accuracy for r in every)
    ref_lat = max(r.latency_ms for r in every)
    print(f"\nhypervolume reference: score {ref_acc:.4f}, latency {ref_lat:.2f} ms")
    print(
        f"{'strategy':<10} {'seed':>4} {'best R':>8} {'score':>7} {'pred ms':>8} "
        f"{'hypervolume':>12} {'distinct':>8}"
    )
    best_r, hv = {}, {}
    for (name, seed), history in sorted(histories.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        b = best_row(history)
        best_r[name, seed] = b.reward
        hv[name, seed] = hypervolume(history, ref_lat, ref_acc)
        print(
            f"{name:<10} {seed:>4} {b.reward:>8.4f} {b.accuracy:>7.4f} {b.latency_ms:>8.2f} "
            f"{hv[name, seed]:>12.4f} {len(distinct_successful(history)):>8}"
        )

    print("\nratios to random search (per seed; mean)")
    for name in ("evolution", "rl"):
        r_best = [best_r[name, s] / best_r["random", s] for s in range(args.seeds)]
        r_hv = [
            hv[name, s] / hv["random", s] if hv["random", s] else float("nan")
            for s in range(args.seeds)
        ]
        print(
            f"{name:<10} best reward: {' '.join(f'{x:.4f}' for x in r_best)}; "
            f"mean {statistics.mean(r_best):.4f}   hypervolume: "
            f"{' '.join(f'{x:.3f}' for x in r_hv)}; mean {statistics.mean(r_hv):.3f}"
        )
        wins = sum(a > 1 for a in r_best), sum(h > 1 for h in r_hv)
        print(
            f"{'':<10} beats random on best reward in {wins[0]}/{args.seeds} seeds, on "
            f"hypervolume in {wins[1]}/{args.seeds}"
        )


if __name__ == "__main__":
    main()
