"""How far the adb path's numbers are from the host backend's on the same layers.

Starts a private adb server and one emulated phone (tests/adbemu), whose stand-in
onnxruntime_perf_test times each pushed ONNX file with onnxruntime on this machine. So both
sides time the same files on the same CPU, and the difference is what the adb chain (export →
push → taskset → runner process → parse) adds or distorts. For scale, the host backend is also
compared with itself (two passes), the run-to-run noise.

    python benchmarks/adb_vs_host.py [--layers 20] [--runs 50] [--warmup 10]

Prints the median over layers of |Δ| / host latency, and the per-layer table.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from adbemu.standalone import emulated_phone  # noqa: E402

from lutnas.spaces.space import get_space  # noqa: E402
from profiler.backends.adb import AdbBackend  # noqa: E402
from profiler.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from profiler.loop import layer_workload  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=20)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    # Pin this process before any thread starts, so the emulated phone's threads and the runner
    # processes they spawn share the core the host backend pins itself to (equal footing on a
    # shared machine; affinity is per thread on Linux and inherited by new threads).
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    specs = get_space("mnasnet").unique_layers(args.resolution)
    specs = random.Random(args.seed).sample(specs, min(args.layers, len(specs)))

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with emulated_phone(tmp, "fake_perf_test.py", "onnxruntime_perf_test") as (
            _,
            serial,
            runner,
        ):
            rows = []
            start = time.monotonic()
            with (
                OnnxRuntimeBackend(threads=1, cache_dir=tmp / "onnx") as host,
                AdbBackend(serial=serial, runner=runner, cache_dir=tmp / "onnx") as adb,
            ):
                for spec in specs:
                    w = layer_workload(spec)
                    h1 = host.measure(w, args.warmup, args.runs).median_ms
                    a = adb.measure(w, args.warmup, args.runs).median_ms
                    h2 = host.measure(w, args.warmup, args.runs).median_ms
                    rows.append((spec.key, h1, a, h2))
            seconds = time.monotonic() - start

    print(f"{'layer':58s} {'host ms':>9s} {'adb ms':>9s} {'host2 ms':>9s} {'adb/host':>8s}")
    for key, h1, a, h2 in rows:
        host = (h1 + h2) / 2
        print(f"{key:58s} {h1:9.3f} {a:9.3f} {h2:9.3f} {a / host:8.3f}")
    adb_dev = [abs(a - (h1 + h2) / 2) / ((h1 + h2) / 2) for _, h1, a, h2 in rows]
    host_dev = [abs(h2 - h1) / h1 for _, h1, _, h2 in rows]
    bias = [a / ((h1 + h2) / 2) for _, h1, a, h2 in rows]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n{len(rows)} layers, warmup {args.warmup}, runs {args.runs}, {seconds:.0f} s, "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
    print(f"median |adb - host| / host   = {statistics.median(adb_dev):.1%}")
    print(f"median |host2 - host1| / host1 = {statistics.median(host_dev):.1%}  (run-to-run noise)")
    print(f"median adb / host            = {statistics.median(bias):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
