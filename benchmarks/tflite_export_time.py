"""How long writing the ``.tflite`` files of a whole search space takes (lutnas's own writer).

Every unique layer of the space at one resolution goes through ``profiler.export.tflite_path``
into a fresh, empty temporary cache, one after another in one process: building the torch
module, converting it, writing the file under its cached name. Nothing is timed on a runtime.

    python benchmarks/tflite_export_time.py [--space mnasnet] [--resolution 224] [--limit N]

Prints the number of layers, the total wall time in seconds, and ms per layer (median, p90,
max); writes benchmarks/results/tflite_export_time.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import write_result  # noqa: E402

from lutnas.spaces.space import get_space  # noqa: E402
from profiler.export import tflite_export_settings, tflite_path  # noqa: E402
from profiler.workloads import layer_workload  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--space", default="mnasnet")
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--limit", type=int, default=None, help="only the first N layers")
    args = ap.parse_args()

    specs = get_space(args.space).unique_layers(args.resolution)[: args.limit]
    per_layer_ms = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for spec in specs:
            t0 = time.perf_counter()
            tflite_path(layer_workload(spec), Path(tmp))
            per_layer_ms.append((time.perf_counter() - t0) * 1000)
        total_s = time.perf_counter() - start
        total_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6
    ms = np.asarray(per_layer_ms)
    slowest = specs[int(ms.argmax())].key
    figures = {
        "space": args.space,
        "resolution": args.resolution,
        "layers": len(specs),
        "total_s": round(total_s, 2),
        "ms_per_layer_median": round(float(np.median(ms)), 2),
        "ms_per_layer_p90": round(float(np.percentile(ms, 90)), 2),
        "ms_per_layer_max": round(float(ms.max()), 2),
        "slowest_layer": slowest,
        "files_mb": round(total_mb, 1),
        "export_settings": tflite_export_settings(),
    }
    print(f"{args.space} @{args.resolution}: {len(specs)} layers written in {total_s:.1f} s")
    print(
        f"ms per layer: median {figures['ms_per_layer_median']}, "
        f"p90 {figures['ms_per_layer_p90']}, max {figures['ms_per_layer_max']} ({slowest})"
    )
    print(f"files: {total_mb:.0f} MB")
    write_result("tflite_export_time", figures)


if __name__ == "__main__":
    main()
