"""Search throughput with the zero-cost evaluator, and the share of time in latency prediction.

    python benchmarks/search_throughput.py --predictor out/ort1.predictor \\
        [--budget 64] [--workers 1 2] [--strategy evolution]

For each worker count, a fresh search (new record in a temporary directory, so every candidate
is evaluated) prints candidates per second and where the wall time went: latency prediction
(one ``predict_many`` call per batch), accuracy evaluation, and the rest (strategy asks/tells,
record commits, token decoding). Then the predictor alone: ``predict_many`` on 1,000 fresh
random architectures (its per-segment cache cold) and again (warm), in architectures/s, at the
libraries' default thread counts and at one thread (what the search uses).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time

from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space
from predictor import LatencyPredictor
from search.evaluators import get_evaluator
from search.reward import make_reward
from search.session import run_search
from search.strategies import get_strategy
from search.threads import single_threaded_libraries


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--predictor", required=True)
    ap.add_argument("--budget", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--strategy", default="evolution")
    args = ap.parse_args()

    space = get_space("mnasnet")
    evaluator = get_evaluator("zero-cost")
    low, high = LatencyPredictor.load(args.predictor).latency_range_ms
    reward = make_reward((low + high) / 2, "soft")
    opts = {"population_size": 16, "sample_size": 4} if args.strategy == "evolution" else {}
    print(
        f"zero-cost evaluator, {args.strategy}, budget {args.budget}, batches of {args.batch_size}"
    )
    print(
        f"{'workers':>7} {'cand/s':>7} {'wall s':>7} {'predict':>8} {'evaluate':>9} "
        f"{'other':>6}   (shares of wall time)"
    )
    for workers in args.workers:
        predictor = LatencyPredictor.load(args.predictor)  # cold cache, like a new search
        strategy = get_strategy(args.strategy, space.choice_counts(), 0, **opts)
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run_search(
                tmp,
                space,
                strategy,
                evaluator,
                predictor,
                reward,
                budget=args.budget,
                batch_size=args.batch_size,
                workers=workers,
                progress=False,
            )
        r = outcome.report
        other = r.seconds - r.predict_seconds - r.eval_seconds
        print(
            f"{workers:>7} {r.candidates_per_second:>7.2f} {r.seconds:>7.1f} "
            f"{100 * r.predict_seconds / r.seconds:>7.2f}% "
            f"{100 * r.eval_seconds / r.seconds:>8.1f}% {100 * other / r.seconds:>5.1f}%"
        )
        steady = r.batches[1:]  # the first batch also pays the workers' start-up
        steady_s = sum(b.seconds for b in steady)
        print(
            f"{'':>7} prediction {1000 * r.predict_seconds / r.tells_this_run:.2f} ms per "
            f"candidate; after the first batch (worker start-up): "
            f"{sum(b.size for b in steady) / steady_s:.2f} cand/s, prediction "
            f"{100 * sum(b.predict_seconds for b in steady) / steady_s:.2f}% of the time"
        )

    archs = sample_archs(space, 1000, seed=123)
    for label, context in (
        ("default threads", contextlib.nullcontext),
        ("one thread (as in the search)", single_threaded_libraries),
    ):
        predictor = LatencyPredictor.load(args.predictor)
        with context():
            for cache in ("cold", "warm"):
                start = time.perf_counter()
                predictor.predict_many(archs)
                seconds = time.perf_counter() - start
                print(
                    f"predict_many on {len(archs)} archs, {label}, {cache} cache: "
                    f"{seconds:.3f} s ({len(archs) / seconds:,.0f} archs/s)"
                )


if __name__ == "__main__":
    main()
