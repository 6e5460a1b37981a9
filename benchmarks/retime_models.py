"""Re-time a LUT's whole models in one session, into a copy, against a fresh calibration.

    python benchmarks/retime_models.py out/litert.lut out/litert_idle.lut [--space mnasnet]

Copies the LUT, keeps the whole models of ``--space``, drops its drift reference and its
torchvision and repeat measurements, then (on the LUT's own backend configuration, which this
machine must reproduce) calibrates the reference anew, times every kept whole model once more in
a shuffled order and the torchvision networks once. The layers stay as they were. Run it on an
idle machine and for one LUT at a time: it makes whole-model truths of several devices that
were timed in one session and a known state (docs/calibrating.md, docs/how-it-works.md
"Drift correction of whole models"). Prints each model's new value against the stored one.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from lut.store import LutStore  # noqa: E402
from lutnas.spaces.arch import Arch  # noqa: E402
from predictor.evaluate import torchvision_graph  # noqa: E402
from profiler.base import host_backend  # noqa: E402
from profiler.loop import ProfileSettings, measure_steady, reference_for  # noqa: E402
from profiler.networks import (  # noqa: E402
    REPEATS_KEY,
    TORCHVISION,
    TORCHVISION_KEY,
    measure_torchvision,
)
from profiler.workloads import arch_workload  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lut", help="the LUT whose whole models to re-time (left unchanged)")
    ap.add_argument("out", help="the copy to write")
    ap.add_argument("--space", default="mnasnet", help="whole models of this space are kept")
    args = ap.parse_args()
    if Path(args.out).exists():
        sys.exit(f"error: {args.out} exists; name a new file")
    shutil.copy(args.lut, args.out)
    ratios = []
    with LutStore.open(args.out) as store:
        frame = store.models_frame()
        store.remove_models(list(frame.loc[frame["space"] != args.space, "arch_key"]))
        frame = frame[frame["space"] == args.space]
        for key in ("drift_reference", TORCHVISION_KEY, REPEATS_KEY):
            store.set_meta(key, None if key == "drift_reference" else {})
        settings = ProfileSettings.from_identity(store.settings)
        rows = list(frame.itertuples())
        random.Random(0).shuffle(rows)
        started = time.time()
        with host_backend(store.backend_config, "retime") as backend:
            reference = reference_for(backend, store, settings)
            for i, row in enumerate(rows, 1):
                arch = Arch.from_json(row.arch_json)
                m, attempts = measure_steady(backend, arch_workload(arch), settings, reference)
                store.put_model(
                    arch, m, attempts, name=row.name if isinstance(row.name, str) else None
                )
                ratios.append(m.median_ms / row.median_ms)
                print(
                    f"{i}/{len(rows)} {time.time() - started:.0f}s  {row.median_ms:8.3f} -> "
                    f"{m.median_ms:8.3f} ms ({ratios[-1]:.3f}x)",
                    flush=True,
                )
    measure_torchvision(args.out, TORCHVISION, times=1, layers_of=torchvision_graph)
    r = np.array(ratios)
    print(
        f"{args.out}: {len(r)} whole models re-timed, new/stored median {np.median(r):.3f} "
        f"(p10-p90 {np.percentile(r, 10):.3f}-{np.percentile(r, 90):.3f}); torchvision timed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
