"""Drift correction benchmark: how repeatable are whole-model timings with and without it?

    python benchmarks/drift_correction.py [--models 20] [--passes 3]

Times the same random whole models (mnasnet space @224) in several passes, minutes apart, each
model once per pass raw (``Backend.measure``: 10 warm-up + 50 runs back to back) and once
drift-corrected (in turns with the reference model, rescaled to one calibration;
:mod:`profiler.reference`), the two right after each other so both see the same machine. Prints
the spread of a model's measurements across passes (median, p90 and RMS of the relative
deviation from its own mean) for both, their ratio corrected ÷ raw (below 1: the correction
removes wander), how far the corrected value sits from the raw one per model (a bias check:
the median ratio is one calibration factor for all, its spread should be small), and the
extra time the correction costs.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from lut.store import LutStore
from profiler.base import get_backend
from profiler.loop import ProfileSettings, measure_steady
from profiler.reference import calibrated_reference
from profiler.workloads import arch_workload
from spaces.sampling import sample_archs
from spaces.space import get_space


def spread(values: np.ndarray) -> dict[str, float]:
    """Relative deviation of each measurement from its model's mean (rows: models)."""
    dev = values / values.mean(axis=1, keepdims=True) - 1
    return {
        "median": float(np.median(np.abs(dev))),
        "p90": float(np.percentile(np.abs(dev), 90)),
        "rms": float(np.sqrt(np.mean(dev**2))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    archs = sample_archs(get_space("mnasnet"), args.models, args.seed, (224,))
    workloads = [arch_workload(a) for a in archs]
    settings = ProfileSettings(max_attempts=1)
    raw = np.zeros((len(workloads), args.passes))
    fixed = np.zeros_like(raw)
    seconds = {"raw": 0.0, "corrected": 0.0}
    with get_backend(args.backend, threads=args.threads) as backend:
        with tempfile.TemporaryDirectory() as tmp:  # a scratch LUT holds the calibration
            with LutStore.create(
                Path(tmp) / "calibration.lut",
                backend.config(),
                backend.device_info(),
                settings.identity(),
            ) as store:
                reference = calibrated_reference(backend, store, settings.warmup, settings.runs)
        for w in workloads:  # export and load every model once, outside the timing
            backend.measure(w, 1, 1)
        for p in range(args.passes):
            order = list(range(len(workloads)))
            random.Random(args.seed + p).shuffle(order)
            for i in order:
                t0 = time.perf_counter()
                raw[i, p] = measure_steady(backend, workloads[i], settings)[0].median_ms
                t1 = time.perf_counter()
                m = measure_steady(backend, workloads[i], settings, reference)[0]
                fixed[i, p] = m.median_ms
                seconds["raw"] += t1 - t0
                seconds["corrected"] += time.perf_counter() - t1
            print(f"pass {p + 1}/{args.passes} done", flush=True)

    print(
        f"\n{args.backend}, {args.threads} thread(s), {settings.warmup} warm-up + "
        f"{settings.runs} runs, {len(workloads)} whole models, {args.passes} passes"
    )
    a, b = spread(raw), spread(fixed)
    print("deviation of a measurement from its model's mean:   raw   corrected   ratio")
    for stat in ("median", "p90", "rms"):
        print(f"  {stat:6s} {a[stat]:27.2%} {b[stat]:11.2%} {b[stat] / a[stat]:7.2f}x")
    scale = fixed.mean(axis=1) / raw.mean(axis=1)
    print(
        f"corrected ÷ raw per model (one calibration factor, ideally equal for all): median "
        f"{np.median(scale):.3f}, spread (p90 - p10) {np.ptp(np.percentile(scale, [10, 90])):.3f}"
    )
    print(f"time: corrected ÷ raw {seconds['corrected'] / seconds['raw']:.2f}x")


if __name__ == "__main__":
    main()
