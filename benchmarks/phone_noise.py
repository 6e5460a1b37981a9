"""How many runner calls a benchmark_model LUT costs when its noise is judged from the runner's
own p5/p95, against judging it from std/mean (what lutnas did before it kept p5/p95).

Starts a private adb server and one emulated phone (tests/adbemu), whose stand-in
benchmark_model times each pushed ``.tflite`` with ai-edge-litert on this machine and prints
LiteRT's ``count= ... std= p5= median= p95=`` line. The same layers are profiled twice with the
profiler's defaults (warm-up 10, 50 runs, re-measure while the noise is above 10 %, at most 3
measurements per row):

- ``paired``: each layer measured once; both rules judge the *same* measurement (std/mean against
  the p5..p95 spread), so the share of rows each would re-measure is compared without the host's
  load changing between passes (the headline ratio);

and then in two LUTs, each with re-measurement as it happens:

- ``std/mean``: every measurement has its p5/p95 taken away before the loop sees it, so the
  noise falls back to std/mean, which a few slow runs inflate (the old behaviour);
- ``p5-p95``: the measurements as the backend returns them now.

    python benchmarks/phone_noise.py [--layers 30] [--seed 0]

Prints the paired shares and, per pass, the runner calls per row, the share of rows
re-measured, the LUT's verdict figures and the wall time; writes
benchmarks/results/phone_noise.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from _results import write_result  # noqa: E402
from adbemu.standalone import emulated_phone  # noqa: E402

from lut.measurement import noise, spread  # noqa: E402
from lutnas.spaces.space import get_space  # noqa: E402
from profiler.backends.adb import AdbBackend  # noqa: E402
from profiler.loop import ProfileSettings, profile_layers  # noqa: E402
from profiler.quality import assess_store  # noqa: E402


class StdMeanOnly(AdbBackend):
    """The adb backend with the runner's p5/p95 dropped: noise by std/mean, as before."""

    def measure(self, workload, warmup, runs):
        m = super().measure(workload, warmup, runs)
        return dataclasses.replace(m, p5_ms=None, p95_ms=None)


def run_pass(cls, serial, runner, cache, out, specs, phone) -> dict:
    settings = ProfileSettings(reference_every=0, drift_correction=False)  # defaults otherwise
    before = len(phone.runner_calls("--graph="))
    start = time.monotonic()
    # one layer per shell: StdMeanOnly changes what measure() returns
    with cls(serial=serial, runner=runner, cache_dir=cache, batch_size=1) as backend:
        with backend.open_lut(out, settings.identity()) as store:
            report = profile_layers(backend, store, specs, settings, progress=False)
            q = assess_store(store)
    calls = len(phone.runner_calls("--graph=")) - before
    return {
        "rows": report.measured,
        "failed": len(report.failed),
        "runner_calls": calls,
        "runner_calls_per_row": round(calls / max(1, report.measured), 3),
        "remeasured_share": round(q.remeasured_share, 3),
        "median_noise": round(q.median_noise, 4) if q.median_noise is not None else None,
        "p90_noise": round(q.p90_noise, 4) if q.p90_noise is not None else None,
        "noise_bases": q.noise_bases,
        "verdict": q.verdict,
        "seconds": round(time.monotonic() - start, 1),
    }


CV_RULE = 0.10


def paired_pass(serial, runner, cache, out, specs) -> dict:
    """One measurement per layer, judged by both rules: the share of rows each would
    re-measure (noise above the CV rule's 0.10, --cv-threshold) on identical figures."""
    settings = ProfileSettings(reference_every=0, drift_correction=False, max_attempts=1)
    with AdbBackend(serial=serial, runner=runner, cache_dir=cache) as backend:
        with backend.open_lut(out, settings.identity()) as store:
            profile_layers(backend, store, specs, settings, progress=False)
            rows = store.layers_frame()
    table = list(rows.itertuples())
    by_std = [noise(None, None, None, None, None, r.std_ms, r.mean_ms)[0] for r in table]
    by_p = [spread(r.median_ms, None, None, r.p5_ms, r.p95_ms)[0] for r in table]
    limit = CV_RULE  # --cv-threshold's value before issue 27 (the rule is off by default now)

    def share(values: list[float]) -> float:
        return sum(v > limit for v in values) / max(1, len(values))

    def median(values: list[float]) -> float:
        known = sorted(v for v in values if v == v)
        return known[len(known) // 2] if known else float("nan")

    # rows std/mean calls noisy while p5..p95 calls steady: a few slow runs, not a spread
    outlier_only = sum(s > limit >= p for s, p in zip(by_std, by_p, strict=True))
    return {
        "rows": len(rows),
        "cv_threshold": limit,
        "remeasure_share_std_mean": round(share(by_std), 3),
        "remeasure_share_p5_p95": round(share(by_p), 3),
        "rows_noisy_by_std_mean_only": outlier_only,
        "median_noise_std_mean": round(median(by_std), 4),
        "median_noise_p5_p95": round(median(by_p), 4),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    specs = get_space("mnasnet").unique_layers(args.resolution)
    specs = random.Random(args.seed).sample(specs, min(args.layers, len(specs)))
    passes = {}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with emulated_phone(tmp, "fake_benchmark_model.py", "benchmark_model") as (
            phone,
            serial,
            runner,
        ):
            paired = paired_pass(serial, runner, tmp / "cache", tmp / "paired.lut", specs)
            for name, cls in (("std/mean", StdMeanOnly), ("p5-p95", AdbBackend)):
                out = tmp / f"{name.replace('/', '_')}.lut"
                passes[name] = run_pass(cls, serial, runner, tmp / "cache", out, specs, phone)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(specs)} MnasNet layers @{args.resolution}, benchmark_model stand-in, "
          f"load average {load:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print(
        "paired (one measurement per row, both rules): re-measured by std/mean "
        f"{paired['remeasure_share_std_mean']:.1%}, "
        f"by p5-p95 {paired['remeasure_share_p5_p95']:.1%}"
        f" (median noise {paired['median_noise_std_mean']:.1%} vs "
        f"{paired['median_noise_p5_p95']:.1%}; {paired['rows_noisy_by_std_mean_only']} rows "
        "noisy by std/mean only)"
    )
    paired_ratio = paired["remeasure_share_p5_p95"] / max(1e-9, paired["remeasure_share_std_mean"])
    print(f"rows re-measured, p5-p95 / std/mean on the same measurements: {paired_ratio:.2f}")
    print(f"{'noise by':10s} {'calls/row':>9s} {'re-measured':>11s} {'median':>7s} "
          f"{'p90':>7s} {'seconds':>8s}  verdict")  # fmt: skip
    for name, p in passes.items():
        print(
            f"{name:10s} {p['runner_calls_per_row']:9.2f} {p['remeasured_share']:11.1%} "
            f"{p['median_noise'] or float('nan'):7.1%} {p['p90_noise'] or float('nan'):7.1%} "
            f"{p['seconds']:8.0f}  {p['verdict']}"
        )
    old, new = passes["std/mean"], passes["p5-p95"]
    ratio = new["runner_calls"] / max(1, old["runner_calls"])
    print(f"runner calls, p5-p95 / std/mean: {ratio:.2f}")
    write_result(
        "phone_noise",
        {
            "layers": len(specs),
            "resolution": args.resolution,
            "seed": args.seed,
            "paired": paired,
            "remeasure_share_ratio_paired": round(paired_ratio, 3),
            "passes": passes,
            "runner_calls_ratio_new_over_old": round(ratio, 3),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
