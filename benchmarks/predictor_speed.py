"""Predictor speed: ``predict_many`` architectures per second and one ``predict`` in ms.

    python benchmarks/predictor_speed.py --predictor out/ort1.predictor [--archs 10000]

Architectures are sampled before the clock starts (sampling validates every layer and is
slower than predicting). Cold: a freshly loaded predictor, whose per-block cache is empty;
warm: the same architectures again (a search revisits blocks constantly). Single predictions
are timed on architectures not seen before (cold) and seen before (warm).
Targets: ≥ 10,000 architectures/s for predict_many, < 1 ms for one predict.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lutnas.spaces.sampling import sample_archs  # noqa: E402
from lutnas.spaces.space import get_space  # noqa: E402
from predictor import LatencyPredictor  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictor", default=str(ROOT / "out" / "ort1.predictor"))
    ap.add_argument("--archs", type=int, default=10_000)
    ap.add_argument("--singles", type=int, default=500)
    ap.add_argument("--seed", type=int, default=123)
    args = ap.parse_args()
    meta_res = LatencyPredictor.load(args.predictor).training_resolutions
    t = time.perf_counter()
    archs = sample_archs(
        get_space("mnasnet"), args.archs + args.singles, args.seed, tuple(meta_res)
    )
    print(
        f"sampled {len(archs)} architectures in {time.perf_counter() - t:.1f} s "
        "(not part of the figures)"
    )
    batch, singles = archs[: args.archs], archs[args.archs :]

    p = LatencyPredictor.load(args.predictor)
    t = time.perf_counter()
    p.predict_many(batch)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    p.predict_many(batch)
    warm = time.perf_counter() - t
    print(
        f"predict_many, {len(batch)} archs: cold {len(batch) / cold:,.0f} archs/s "
        f"({cold:.2f} s), warm {len(batch) / warm:,.0f} archs/s ({warm:.3f} s)"
    )

    cold_ms, warm_ms = [], []
    for a in singles:
        t = time.perf_counter()
        p.predict(a)
        cold_ms.append(1e3 * (time.perf_counter() - t))
        t = time.perf_counter()
        p.predict(a)
        warm_ms.append(1e3 * (time.perf_counter() - t))
    print(
        f"predict, one arch: median cold {statistics.median(cold_ms):.3f} ms, "
        f"warm {statistics.median(warm_ms):.3f} ms (p90 cold "
        f"{sorted(cold_ms)[int(0.9 * len(cold_ms))]:.3f} ms)"
    )
    t = time.perf_counter()
    for a in singles[:100]:
        p.predict_detail(a)
    print(
        f"predict_detail (interval + OOD check), one arch: {10 * (time.perf_counter() - t):.3f} ms"
    )

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(
        f"targets: predict_many >= 10,000 archs/s: cold {met(len(batch) / cold >= 1e4)}, "
        f"warm {met(len(batch) / warm >= 1e4)}; single predict < 1 ms: "
        f"{met(statistics.median(cold_ms) < 1)} (cold), "
        f"{met(statistics.median(warm_ms) < 1)} (warm)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
