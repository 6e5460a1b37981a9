"""Many networks at once: ``lutnas predict --arch-json`` and ``lutnas calibrate`` (issue 25).

    python benchmarks/many_networks.py [--predictor out/ort1.predictor] \\
        [--archs 5000] [--rows 1000 10000] [--old-rows 1000 2000]

Without ``--predictor``, the test suite's small predictor is built in a temporary directory
(``tests/test_search_fixtures.small_predictor``: MobileNetV2 variants at 160 px, measured with
onnxruntime, about a minute): most rows of random architectures are then estimated, the slower
path.

Predicting: the detailed predictions (interval, OOD flag, estimated share) of ``--archs``
random architectures, one ``predict_detail`` call each (what ``lutnas predict --arch-json``
did before 2026-12-02: 151 s for 5,000 in the adversarial run) against one ``predict_details``
call (what it does now).

Calibrating: ``LatencyPredictor.calibrate`` on N distinct architectures with synthetic target
latencies (the source's prediction × 2, 5 % noise), as now, against the way it was done before
2026-12-02, re-enacted with the same code: one ``predict_detail`` per network and the shrunk
map refitted for every point left out (quadratic; the adversarial run: 10,000 CSV rows in 959 s
and 1.4 GB). The old way is timed only for ``--old-rows``.

Architectures are sampled before the clock starts. Times in seconds on this machine as it is
(the load average is recorded); peak memory is the process's maximum resident size so far.
Writes benchmarks/results/many_networks.json.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import write_result  # noqa: E402

from lutnas.spaces.sampling import sample_archs  # noqa: E402
from lutnas.spaces.space import get_space  # noqa: E402
from predictor import LatencyPredictor, calibration  # noqa: E402
from predictor.calibrated import calibrate  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_predicting(path: str, archs: list) -> dict:
    p = LatencyPredictor.load(path)
    t = time.perf_counter()
    one_by_one = [p.predict_detail(a) for a in archs]
    old = time.perf_counter() - t
    p = LatencyPredictor.load(path)  # a fresh cache, as a new command has
    t = time.perf_counter()
    together = p.predict_details(archs)
    new = time.perf_counter() - t
    same = all(
        abs(a.latency_ms - b.latency_ms) <= 1e-6 * b.latency_ms
        for a, b in zip(together, one_by_one, strict=True)
    )
    print(
        f"predict, {len(archs)} archs: one call each {old:.1f} s, one call for all {new:.2f} s "
        f"({old / new:.0f}x faster; the same predictions: {same})"
    )
    return {"archs": len(archs), "one_by_one_s": old, "together_s": new, "same": same}


def _old_calibrate(source: LatencyPredictor, items: list) -> None:
    """The calibration as lutnas did it before 2026-12-02 (see the module docstring)."""
    from predictor.calibrated import _numbers

    numbers = [_numbers(source.predict_detail(a).latency_ms, a.layers()) for a, _ in items]
    saved = calibration.EXACT_LOO_MAX
    calibration.EXACT_LOO_MAX = len(items) + 1  # every point refitted
    try:
        calibration.fit_calibration(numbers, [ms for _, ms in items])
    finally:
        calibration.EXACT_LOO_MAX = saved


def time_calibrating(path: str, archs: list, rows: list[int], old_rows: list[int]) -> list:
    source = LatencyPredictor.load(path)
    truth = source.predict_many(archs) * 2 * np.random.default_rng(0).lognormal(0, 0.05, len(archs))
    out = []
    for n in sorted(set(rows) | set(old_rows)):
        items = list(zip(archs[:n], truth[:n], strict=True))
        figure = {"rows": n}
        if n in old_rows:
            fresh = LatencyPredictor.load(path)
            t = time.perf_counter()
            _old_calibrate(fresh, items)
            figure["old_s"] = time.perf_counter() - t
        if n in rows:
            fresh = LatencyPredictor.load(path)
            t = time.perf_counter()
            calibrate(fresh, items, device="benchmark")
            figure["new_s"] = time.perf_counter() - t
        figure["peak_mb"] = round(_peak_mb())
        print(
            f"calibrate, {n} rows: "
            + ", ".join(f"{k} {v:.1f}" for k, v in figure.items() if k.endswith("_s"))
            + f" s (peak {figure['peak_mb']} MB so far)"
        )
        out.append(figure)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictor", help="default: the test suite's small predictor, built now")
    ap.add_argument("--archs", type=int, default=5000)
    ap.add_argument("--rows", type=int, nargs="+", default=[1000, 10_000])
    ap.add_argument("--old-rows", type=int, nargs="+", default=[1000, 2000])
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if args.predictor is None:
        import tempfile

        sys.path.insert(0, str(ROOT / "tests"))
        from test_search_fixtures import small_predictor

        args.predictor = str(small_predictor(Path(tempfile.mkdtemp(prefix="lutnas-bench-"))))
        print(f"built the test suite's small predictor: {args.predictor}")
    resolutions = tuple(LatencyPredictor.load(args.predictor).training_resolutions)
    n = max(args.archs, *args.rows, *args.old_rows)
    t = time.perf_counter()
    archs = sample_archs(get_space("mnasnet"), n, args.seed, resolutions)
    print(f"sampled {n} architectures in {time.perf_counter() - t:.1f} s (not in the figures)")
    figures = {
        "predictor": args.predictor if "lutnas-bench-" not in args.predictor else "small (tests)",
        "predict": time_predicting(args.predictor, archs[: args.archs]),
        "calibrate": time_calibrating(args.predictor, archs, args.rows, args.old_rows),
    }
    write_result("many_networks", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
