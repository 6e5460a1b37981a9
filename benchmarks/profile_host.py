"""Host profiling benchmark: LUT size, cost per layer, projected full-LUT time, repeatability.

    python benchmarks/profile_host.py [--layers 50] [--backend onnxruntime] [--runs 50]

Prints: unique layers per resolution of the mnasnet space; seconds per layer on this host
(ONNX export and measurement apart, default settings: 10 warm-up + 50 runs, CV re-measure);
the projected time of a full LUT; and the repeatability of two independent measurements of the
same layers (median |Δ| / latency), the floor any predictor built on the LUT inherits.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from lut.store import LutStore
from lutnas.spaces.space import get_space
from profiler.base import get_backend
from profiler.export import onnx_path
from profiler.loop import ProfileSettings, layer_workload, profile_layers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--layers", type=int, default=50)
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    space = get_space("mnasnet")
    per_res = {r: space.unique_layers(r) for r in space.resolutions}
    for r, specs in per_res.items():
        print(f"unique layers @{r}: {len(specs)}")
    total_layers = sum(len(v) for v in per_res.values())
    print(f"unique layers, all {len(per_res)} resolutions: {total_layers}")

    everything = [s for v in per_res.values() for s in v]
    sample = random.Random(args.seed).sample(everything, args.layers)
    settings = ProfileSettings(warmup=args.warmup, runs=args.runs, reference_every=0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        backend_options = {"cache_dir": tmp / "onnx"} if args.backend == "onnxruntime" else {}
        export_s = 0.0
        if args.backend == "onnxruntime":
            start = time.perf_counter()
            for spec in sample:
                onnx_path(layer_workload(spec), tmp / "onnx")
            export_s = (time.perf_counter() - start) / len(sample)
        medians = []
        per_layer_s = []
        for run in range(2):  # two independent passes, each in its own order and file
            with get_backend(args.backend, **backend_options) as backend:
                store = LutStore.create(
                    tmp / f"pass{run}.lut",
                    backend.config(),
                    backend.device_info(),
                    settings.identity(),
                )
                start = time.perf_counter()
                s = ProfileSettings(**{**settings.__dict__, "seed": args.seed + run})
                profile_layers(backend, store, sample, s, progress=False)
                per_layer_s.append((time.perf_counter() - start) / len(sample))
                medians.append(store.latency_ms([x.key for x in sample]))
                store.close()
    measure_s = per_layer_s[0]
    print(f"backend {args.backend}, {args.warmup} warm-up + {args.runs} runs, {args.layers} layers")
    print(
        f"seconds per layer: export {export_s:.3f} + measure {measure_s:.3f} "
        f"= {export_s + measure_s:.3f}"
    )
    for r, specs in per_res.items():
        print(f"projected full LUT @{r}: {len(specs) * (export_s + measure_s) / 60:.1f} min")
    print(
        f"projected full LUT, all resolutions: {total_layers * (export_s + measure_s) / 3600:.2f} h"
    )
    a = np.array([medians[0][x.key] for x in sample])
    b = np.array([medians[1][x.key] for x in sample])
    rel = np.abs(a - b) / ((a + b) / 2)
    print(
        f"repeatability over {len(sample)} layers, two passes: median |d|/latency "
        f"{np.median(rel):.3%}, p90 {np.percentile(rel, 90):.3%}"
    )


if __name__ == "__main__":
    main()
