"""Which re-measure rule pays: the CV threshold, the median's confidence interval, or none.

Times the same layers in two passes (each pass its own order, minutes apart), every row
``--attempts`` times in a row (10 warm-up + 50 runs each, the profiler's defaults). Then replays
the recorded measurements through the loop's own rule (``profiler.steady.measure_row``) under
each setting, as if the row had been measured until that rule was satisfied, and prints per
rule: measurements per row, the share of rows re-measured, the share that moved (kept median
outside the first measurement's 95 % interval), and how well the two passes' kept medians agree
(median and p90 of |Δ| / latency). A rule pays when it buys agreement with its measurements.

    python benchmarks/remeasure_rules.py [--layers 200] [--backend onnxruntime] [--attempts 3]

Writes ``results/remeasure_rules.json``.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import write_result  # noqa: E402

from lutnas.spaces.space import get_space  # noqa: E402
from profiler.base import Backend, Workload, get_backend  # noqa: E402
from profiler.settings import ProfileSettings  # noqa: E402
from profiler.steady import measure_row  # noqa: E402
from profiler.workloads import layer_workload  # noqa: E402

RULES = {  # name -> the settings' re-measure fields
    "never": {"ci_tolerance": None, "cv_threshold": None},
    "cv 0.10 (before)": {"ci_tolerance": None, "cv_threshold": 0.10},
    "ci 0.02": {"ci_tolerance": 0.02},
    "ci 0.03": {"ci_tolerance": 0.03},
    "ci 0.05 (default)": {"ci_tolerance": 0.05},
    "ci 0.10": {"ci_tolerance": 0.10},
    "always": {"ci_tolerance": 0.0},
}


class Replay(Backend):
    """Hands out recorded measurements in turn (the rule's decisions without re-timing)."""

    name = "replay"

    def __init__(self, measurements) -> None:
        self.left = list(measurements)

    def config(self) -> dict:
        return {}

    def device_info(self) -> dict:
        return {}

    def measure(self, workload, warmup, runs):
        return self.left.pop(0)


def record(args: argparse.Namespace, specs, seed: int) -> dict[str, list]:
    """``attempts`` measurements of every spec, in an order shuffled by ``seed``."""
    order = list(specs)
    random.Random(seed).shuffle(order)
    out = {}
    with get_backend(args.backend) as backend:
        for i, spec in enumerate(order):
            w = layer_workload(spec)
            out[spec.key] = [backend.measure(w, 10, 50) for _ in range(args.attempts)]
            if (i + 1) % 50 == 0:
                print(f"  pass {seed}: {i + 1}/{len(order)} layers", flush=True)
    return out


def replay(recorded: list, fields: dict, attempts: int):
    settings = ProfileSettings(max_attempts=attempts, **{"cv_threshold": None, **fields})
    return measure_row(Replay(recorded), Workload("replayed", object, (1,)), settings)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=200)
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    specs = get_space("mnasnet").unique_layers(args.resolution)
    specs = random.Random(args.seed).sample(specs, min(args.layers, len(specs)))
    passes = [record(args, specs, args.seed + p) for p in (1, 2)]
    figures: dict = {"layers": len(specs), "backend": args.backend, "rules": {}}
    print(f"{'rule':20s} meas/row  re-meas  moved  |d| median     p90")
    for name, fields in RULES.items():
        rows = [[replay(p[s.key], fields, args.attempts) for s in specs] for p in passes]
        a = np.array([r.measurement.median_ms for r in rows[0]])
        b = np.array([r.measurement.median_ms for r in rows[1]])
        rel = np.abs(a - b) / ((a + b) / 2)
        flat = rows[0] + rows[1]
        entry = {
            "measurements_per_row": round(float(np.mean([r.attempts for r in flat])), 3),
            "remeasured_share": round(float(np.mean([r.attempts > 1 for r in flat])), 3),
            "moved_share": round(float(np.mean([r.moved for r in flat])), 3),
            "passes_median_abs_diff": round(float(np.median(rel)), 4),
            "passes_p90_abs_diff": round(float(np.percentile(rel, 90)), 4),
        }
        figures["rules"][name] = entry
        print(
            f"{name:20s} {entry['measurements_per_row']:8.2f} {entry['remeasured_share']:8.0%} "
            f"{entry['moved_share']:6.0%} {entry['passes_median_abs_diff']:10.2%} "
            f"{entry['passes_p90_abs_diff']:7.2%}"
        )
    write_result("remeasure_rules", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
