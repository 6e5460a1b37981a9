"""LiteRT (XNNPACK) against ONNX Runtime on this host: per layer, and how each backend's LUT sum
tracks its whole models.

Random architectures of the MnasNet space are drawn; every layer they need is timed with both
backends in alternation (which backend goes first flips from row to row), then each whole
architecture is timed with both. All at ``--threads`` threads, pinned, in one run, so the
machine's drift hits both sides alike. Whole models are timed back to back like the layers
(no drift reference), so sum/whole compares like with like.

    python benchmarks/litert_vs_ort.py [--archs 30] [--resolution 224] [--runs 50] [--warmup 10]

Prints the distribution of LiteRT/ORT per layer, and per backend the ratio LUT sum / whole model
(median, p10, p90) over the architectures; writes benchmarks/results/litert_vs_ort.json.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import write_result  # noqa: E402

from lutnas.spaces.sampling import sample_archs  # noqa: E402
from lutnas.spaces.space import get_space  # noqa: E402
from profiler.base import get_backend  # noqa: E402
from profiler.workloads import arch_workload, layer_workload  # noqa: E402

BACKENDS = ("onnxruntime", "litert")


def spread(values: list[float]) -> dict:
    a = np.asarray(values, dtype=float)
    return {
        "median": round(float(np.median(a)), 4),
        "p10": round(float(np.percentile(a, 10)), 4),
        "p90": round(float(np.percentile(a, 90)), 4),
        "min": round(float(a.min()), 4),
        "max": round(float(a.max()), 4),
        "n": int(a.size),
    }


def time_both(backends: dict, workload, first: int, warmup: int, runs: int) -> dict[str, float]:
    """Median ms of ``workload`` on both backends, ``first`` choosing which goes first."""
    order = BACKENDS if first % 2 == 0 else BACKENDS[::-1]
    return {name: backends[name].measure(workload, warmup, runs).median_ms for name in order}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", type=int, default=30)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    space = get_space("mnasnet")
    archs = sample_archs(space, args.archs, args.seed, (args.resolution,))
    specs = list({s.key: s for a in archs for s in a.layers()}.values())
    random.Random(args.seed).shuffle(specs)
    start = time.monotonic()
    backends = {name: get_backend(name, threads=args.threads) for name in BACKENDS}
    layer_ms: dict[str, dict[str, float]] = {}
    whole_ms: list[dict[str, float]] = []
    with backends["onnxruntime"], backends["litert"]:
        for i, spec in enumerate(tqdm(specs, desc="layers (both backends)", unit="layer")):
            layer_ms[spec.key] = time_both(
                backends, layer_workload(spec), i, args.warmup, args.runs
            )
        for i, arch in enumerate(tqdm(archs, desc="whole models (both)", unit="model")):
            whole_ms.append(time_both(backends, arch_workload(arch), i, args.warmup, args.runs))
    seconds = time.monotonic() - start

    per_layer = [row["litert"] / row["onnxruntime"] for row in layer_ms.values()]
    sums = {
        name: [sum(layer_ms[s.key][name] for s in a.layers()) for a in archs] for name in BACKENDS
    }
    ratio = {
        name: [s / w[name] for s, w in zip(sums[name], whole_ms, strict=True)] for name in BACKENDS
    }
    whole_ratio = [w["litert"] / w["onnxruntime"] for w in whole_ms]
    within = sum(abs(r - 1) <= 0.10 for r in per_layer) / len(per_layer)

    print(
        f"\n{len(specs)} layers of {len(archs)} random archs at {args.resolution} px, "
        f"{args.threads} thread(s), warmup {args.warmup}, runs {args.runs}, {seconds:.0f} s"
    )
    per = spread(per_layer)
    print(
        f"per layer LiteRT / ORT: median {per['median']:.3f} (p10 {per['p10']:.3f}, "
        f"p90 {per['p90']:.3f}); {within:.0%} of layers within ±10%"
    )
    w = spread(whole_ratio)
    print(
        f"whole model LiteRT / ORT: median {w['median']:.3f} (p10 {w['p10']:.3f}, "
        f"p90 {w['p90']:.3f})"
    )
    for name in BACKENDS:
        r = spread(ratio[name])
        print(
            f"{name:12s} LUT sum / whole model: median {r['median']:.3f} "
            f"(p10 {r['p10']:.3f}, p90 {r['p90']:.3f}, range {r['min']:.3f}-{r['max']:.3f})"
        )
    by_kind: dict[str, list[float]] = {}
    for key, row in layer_ms.items():
        by_kind.setdefault(key.split("_")[0], []).append(row["litert"] / row["onnxruntime"])
    for kind, values in sorted(by_kind.items()):
        print(
            f"  {kind:7s} LiteRT / ORT median {statistics.median(values):.3f} "
            f"over {len(values)} layers"
        )
    write_result(
        "litert_vs_ort",
        {
            "archs": len(archs),
            "layers": len(specs),
            "resolution": args.resolution,
            "threads": args.threads,
            "warmup": args.warmup,
            "runs": args.runs,
            "seconds": round(seconds, 1),
            "per_layer_litert_over_ort": per,
            "per_layer_within_10pct": round(within, 4),
            "per_op_litert_over_ort": {
                k: round(statistics.median(v), 4) for k, v in sorted(by_kind.items())
            },
            "whole_model_litert_over_ort": w,
            "sum_over_whole": {name: spread(ratio[name]) for name in BACKENDS},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
