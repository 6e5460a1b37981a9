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

    python benchmarks/drift_correction.py --fresh-processes [--models 16] [--passes 3]

runs each pass in a fresh Python process against the calibration the first process made, as a
resumed profile or a ``--verify`` run does: whether the correction also carries a LUT's scale
from one process to the next (where a model's build and the machine's state differ). Writes
results/drift_correction_processes.json (results/drift_correction.json without the flag).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import write_result  # noqa: E402

from lut.store import LutStore  # noqa: E402
from lutnas.spaces.sampling import sample_archs  # noqa: E402
from lutnas.spaces.space import get_space  # noqa: E402
from profiler.base import get_backend  # noqa: E402
from profiler.loop import ProfileSettings, measure_steady  # noqa: E402
from profiler.reference import calibrated_reference  # noqa: E402
from profiler.workloads import arch_workload  # noqa: E402


def spread(values: np.ndarray) -> dict[str, float]:
    """Relative deviation of each measurement from its model's mean (rows: models)."""
    dev = values / values.mean(axis=1, keepdims=True) - 1
    return {
        "median": float(np.median(np.abs(dev))),
        "p90": float(np.percentile(np.abs(dev), 90)),
        "rms": float(np.sqrt(np.mean(dev**2))),
    }


def time_pass(backend, workloads, reference, settings, seed: int) -> dict:
    """One pass: every model raw, then drift-corrected, in a shuffled order."""
    raw, fixed = [0.0] * len(workloads), [0.0] * len(workloads)
    seconds = {"raw": 0.0, "corrected": 0.0}
    order = list(range(len(workloads)))
    random.Random(seed).shuffle(order)
    for i in order:
        t0 = time.perf_counter()
        raw[i] = measure_steady(backend, workloads[i], settings)[0].median_ms
        t1 = time.perf_counter()
        fixed[i] = measure_steady(backend, workloads[i], settings, reference)[0].median_ms
        seconds["raw"] += t1 - t0
        seconds["corrected"] += time.perf_counter() - t1
    return {"raw": raw, "corrected": fixed, "seconds": seconds}


def _ready(backend, calibration: Path, settings, workloads):
    """The calibrated reference (made once, then read back); ``workloads`` (those this process
    times) are exported and loaded once, outside the timing."""
    with LutStore.create_or_resume(
        calibration, backend.config(), backend.device_info(), settings.identity()
    ) as store:
        reference = calibrated_reference(backend, store, settings.warmup, settings.runs)
    for w in workloads:
        backend.measure(w, 1, 1)
    return reference


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--fresh-processes", action="store_true", help="each pass in a fresh Python process"
    )
    ap.add_argument("--one-pass", nargs=3, metavar=("P", "CALIBRATION", "OUT"), help="internal")
    args = ap.parse_args()

    archs = sample_archs(get_space("mnasnet"), args.models, args.seed, (224,))
    workloads = [arch_workload(a) for a in archs]
    settings = ProfileSettings(max_attempts=1)
    if args.one_pass:  # a child of --fresh-processes
        p, calibration, out = int(args.one_pass[0]), Path(args.one_pass[1]), args.one_pass[2]
        with get_backend(args.backend, threads=args.threads) as backend:
            reference = _ready(backend, calibration, settings, workloads)
            result = time_pass(backend, workloads, reference, settings, args.seed + p)
        Path(out).write_text(json.dumps(result))
        return
    passes = []
    with tempfile.TemporaryDirectory() as tmp:  # a scratch LUT holds the calibration
        calibration = Path(tmp) / "calibration.lut"
        with get_backend(args.backend, threads=args.threads) as backend:
            # with fresh processes this one only calibrates; each child loads what it times
            timed_here = [] if args.fresh_processes else workloads
            reference = _ready(backend, calibration, settings, timed_here)
            for p in range(args.passes):
                if args.fresh_processes:
                    out = Path(tmp) / f"pass{p}.json"
                    child = [*sys.argv[1:], "--one-pass", str(p), str(calibration), str(out)]
                    subprocess.run([sys.executable, __file__, *child], check=True)
                    passes.append(json.loads(out.read_text()))
                else:
                    passes.append(time_pass(backend, workloads, reference, settings, args.seed + p))
                print(f"pass {p + 1}/{args.passes} done", flush=True)

    raw = np.array([q["raw"] for q in passes]).T
    fixed = np.array([q["corrected"] for q in passes]).T
    seconds = {k: sum(q["seconds"][k] for q in passes) for k in ("raw", "corrected")}
    where = "each in a fresh process" if args.fresh_processes else "in one process"
    print(
        f"\n{args.backend}, {args.threads} thread(s), {settings.warmup} warm-up + "
        f"{settings.runs} runs, {len(workloads)} whole models, {args.passes} passes {where}"
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
    shift = np.median(fixed / fixed[:, :1], axis=0), np.median(raw / raw[:, :1], axis=0)
    print(
        "each pass against the first, median over models: corrected "
        + " ".join(f"{v:.3f}" for v in shift[0])
        + " | raw "
        + " ".join(f"{v:.3f}" for v in shift[1])
    )
    print(f"time: corrected ÷ raw {seconds['corrected'] / seconds['raw']:.2f}x")
    print(f"the reference's calibrated latency (nominal): {reference.nominal_ms:.3f} ms")
    name = "drift_correction_processes" if args.fresh_processes else "drift_correction"
    write_result(
        name,
        {
            "backend": args.backend,
            "threads": args.threads,
            "models": len(workloads),
            "passes": args.passes,
            "fresh_processes": args.fresh_processes,
            "deviation_from_model_mean": {"raw": a, "corrected": b},
            "pass_vs_first_median": {"corrected": list(shift[0]), "raw": list(shift[1])},
            "corrected_over_raw_median": float(np.median(scale)),
            "reference_nominal_ms": reference.nominal_ms,
            "time_corrected_over_raw": seconds["corrected"] / seconds["raw"],
            "raw_ms": raw.tolist(),
            "corrected_ms": fixed.tolist(),
        },
    )


if __name__ == "__main__":
    main()
