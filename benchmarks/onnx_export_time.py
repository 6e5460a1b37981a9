"""How long an ONNX file takes to make: the TorchScript exporter against lutnas's own writer.

N layers of a space at one resolution (a seeded sample of its unique layers) go through
``profiler.export.onnx_path`` with each exporter, into two fresh, empty temporary caches, in one
process, interleaved layer by layer (which exporter goes first alternates), so both see the
same machine load: building the torch module, writing the file, publishing it under its cached
name, i.e. what a cold-cache profile pays per layer. One untimed file of each comes first (the
exporters' first call imports and initialises). Nothing is timed on a runtime.

    python benchmarks/onnx_export_time.py [--space mnasnet] [--resolution 224] [--layers 200]

Prints seconds per layer for each (median, mean, p90) and the ratio TorchScript / direct;
writes benchmarks/results/onnx_export_time.json. On a busy machine the absolute figures move
with the load; the ratio from one interleaved run is the figure to quote.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import write_result  # noqa: E402

from lutnas.spaces.space import get_space  # noqa: E402
from profiler.export import EXPORTER, TORCHSCRIPT, export_settings, onnx_path  # noqa: E402
from profiler.workloads import layer_workload  # noqa: E402

EXPORTERS = (TORCHSCRIPT, EXPORTER)


def _stats(seconds: list[float]) -> dict:
    s = np.asarray(seconds)
    return {
        "total_s": round(float(s.sum()), 3),
        "s_per_layer_median": round(float(np.median(s)), 5),
        "s_per_layer_mean": round(float(s.mean()), 5),
        "s_per_layer_p90": round(float(np.percentile(s, 90)), 5),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="mnasnet")
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--layers", type=int, default=200, help="layers sampled (seeded)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    specs = get_space(args.space).unique_layers(args.resolution)
    random.Random(args.seed).shuffle(specs)
    warm, specs = specs[0], specs[1 : args.layers + 1]
    load_before = os.getloadavg()[0]
    seconds: dict[str, list[float]] = {e: [] for e in EXPORTERS}
    with tempfile.TemporaryDirectory() as tmp:
        caches = {e: Path(tmp) / e for e in EXPORTERS}
        for exporter in EXPORTERS:
            onnx_path(layer_workload(warm), caches[exporter], exporter)
        for i, spec in enumerate(specs):
            for exporter in EXPORTERS if i % 2 == 0 else EXPORTERS[::-1]:
                t0 = time.perf_counter()
                onnx_path(layer_workload(spec), caches[exporter], exporter)
                seconds[exporter].append(time.perf_counter() - t0)
            if (i + 1) % 50 == 0:
                print(f"{i + 1}/{len(specs)} layers", flush=True)
        sizes = {e: sum(f.stat().st_size for f in caches[e].glob("*.onnx")) for e in EXPORTERS}
    figures = {
        "space": args.space,
        "resolution": args.resolution,
        "layers": len(specs),
        "seed": args.seed,
        "load_average_1min_before": round(load_before, 2),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        **{e: {**_stats(seconds[e]), "files_mb": round(sizes[e] / 1e6, 1)} for e in EXPORTERS},
        "export_settings": {e: export_settings(e) for e in EXPORTERS},
    }
    old, new = figures[TORCHSCRIPT], figures[EXPORTER]
    figures["ratio_torchscript_to_direct_total"] = round(old["total_s"] / new["total_s"], 2)
    figures["ratio_torchscript_to_direct_median"] = round(
        old["s_per_layer_median"] / new["s_per_layer_median"], 2
    )
    print(
        f"{args.space} @{args.resolution}: {len(specs)} layers, interleaved, load "
        f"{figures['load_average_1min_before']} -> {figures['load_average_1min_after']}"
    )
    for e in EXPORTERS:
        f = figures[e]
        print(
            f"  {e:12s} s per layer: median {f['s_per_layer_median']:.4f}, mean "
            f"{f['s_per_layer_mean']:.4f}, p90 {f['s_per_layer_p90']:.4f}; total "
            f"{f['total_s']:.1f} s; files {f['files_mb']} MB"
        )
    print(
        f"  ratio TorchScript / direct: {figures['ratio_torchscript_to_direct_total']}x "
        f"(totals), {figures['ratio_torchscript_to_direct_median']}x (medians)"
    )
    write_result("onnx_export_time", figures)


if __name__ == "__main__":
    main()
