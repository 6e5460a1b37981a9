"""A target's LUT from a sample of its layers, transferred from a source LUT, against calibration
from whole models alone and the full target LUT (the ceiling), on real pairs of backends.

Both LUTs are full (every layer of the space at one resolution) and hold whole models of the
same architectures, measured in one session each. Timing K layers on the target is played back
from the full target LUT: its rows of the K layers (real measurements) are kept and the rest
moved from the source (:mod:`predictor.transfer`), exactly what ``profile-device
--transfer-from SOURCE --sample K`` stores. A fixed share of the target's whole models is held
out; for each of ``--seeds`` draws of N from the rest:

- ``calibrate N``: the source's predictor (fitted on the source LUT and its whole models)
  calibrated with the N (:mod:`predictor.calibrated`);
- ``transfer K``: the target LUT with the first K layers of the sample order measured and the
  rest transferred, fitted with the N;
- ``random K``: the same with K layers drawn uniformly at random (seeded by the draw);
- ``full LUT``: the full target LUT fitted with the N (the ceiling).

Profiling seconds on the target: layers × the target LUT's own seconds per layer (the span of
its rows' ``measured_at`` over their count: export, session and timing as profiled here) plus
N × its seconds per whole model, likewise.

    python benchmarks/transfer.py --pair out/ort.lut out/torch.lut --pair out/torch.lut out/ort.lut
        [--sizes 100 200 400 800] [--models 20] [--seeds 3] [--as-table 2661] [--quick]

LUTs of the whole space at one resolution (2,661 MnasNet layers) take hours per backend on a busy
2-core machine, so a run may use LUTs of a smaller table (``profile-device --whole-models 40
--limit 1``: the 40 models' layers) and ``--as-table 2661``: each size K is then read as K layers
of a 2,661-layer table and timed as the same share of the LUTs' own table (K × table / 2,661,
so the map sees as large a share of the table as on the full space), and the profiling seconds
and their share are those of K and the 2,661 layers at the target's own seconds per layer.
``--quick``: ``--as-table 2661 --models 10 --seeds 2``.

Prints per pair and method: held-out ±10 %, ±5 %, RMSPE, Kendall τ (medians over draws), the
profiling seconds, their share of the full LUT's, RMSPE as a ratio to the full LUT's and, for
the transfers, the RMSPE of the held-out models' LUT sums against the full target LUT's sums
(what the transfer alone changes, free of whole-model timing noise), then
whether the goal holds (at <= 15 % of the full LUT's time: RMSPE <= 1.2x the full LUT's and
>= 95 % within ±10 %); writes benchmarks/results/transfer.json and transfer.png (RMSPE against
profiling seconds).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import random
import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _phone_time import phone_costs, phone_seconds  # noqa: E402
from _results import RESULTS, write_result  # noqa: E402
from _transfer_report import (  # noqa: E402
    GOAL_RMSPE_RATIO,
    GOAL_TIME_SHARE,
    GOAL_WITHIN_10,
    lines,
    plot,
)

from lut.spec import LayerSpec  # noqa: E402
from lut.store import LutStore  # noqa: E402
from lut.transferred import transferred_ms  # noqa: E402
from lutnas.spaces.arch import Arch  # noqa: E402
from predictor import LatencyPredictor  # noqa: E402
from predictor.metrics import metrics  # noqa: E402
from predictor.transfer import plan_transfer, random_sample  # noqa: E402

FIGURES = ("within_10", "within_5", "rmspe", "kendall_tau")


def _seconds_per_row(frame) -> float:
    """Wall seconds per row of a profile, from its rows' ``measured_at`` stamps."""
    stamps = sorted(datetime.datetime.fromisoformat(t) for t in frame["measured_at"])
    return (stamps[-1] - stamps[0]).total_seconds() / max(len(stamps) - 1, 1)


def _sums(archs: list[Arch], rows: dict[str, float]) -> np.ndarray:
    return np.array([sum(rows[s.key] for s in a.layers()) for a in archs])


def _rmspe(pred: np.ndarray, true: np.ndarray) -> float:
    return float(100 * np.sqrt(np.mean(((pred - true) / true) ** 2)))


def _models(store: LutStore) -> tuple[list[Arch], np.ndarray]:
    frame = store.models_frame()
    return [Arch.from_json(j) for j in frame["arch_json"]], frame["median_ms"].to_numpy()


def _copy_without(target: str, keep_layers: set[str], tmp: Path) -> Path:
    """A copy of the target LUT holding only ``keep_layers`` and no whole models."""
    handle, name = tempfile.mkstemp(suffix=".lut", dir=tmp)  # unique across worker processes
    os.close(handle)
    out = Path(name)
    out.unlink()
    src, dst = sqlite3.connect(target), sqlite3.connect(out)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    with LutStore.edit(out) as store:
        store.remove_layers(store.layer_keys() - keep_layers)
        store.remove_models(store.model_keys())
    return out


def _name(config: dict) -> str:
    """A LUT's backend and precision, as the pair's label says them."""
    return f"{config['backend']} {config.get('precision', 'fp32')}"


def run_pair(
    source: str,
    target: str,
    sizes,
    n_models: int,
    seeds: int,
    held_out: float,
    tmp: Path,
    as_table: int | None = None,
) -> dict:
    with LutStore.open(target, writable=False) as t:
        layers = t.layers_frame()
        table = [LayerSpec.from_key(k) for k in layers["key"]]
        archs, y = _models(t)
        s_layer, s_model = _seconds_per_row(layers), _seconds_per_row(t.models_frame())
        device = f"{_name(t.backend_config)} {t.backend_config.get('device', '')}"
    with LutStore.open(source, writable=False) as s:
        src_name = _name(s.backend_config)
        src_models = dict(zip(*(lambda a, ms: ([x.key for x in a], ms))(*_models(s)), strict=True))
    order = list(range(len(archs)))
    random.Random(0).shuffle(order)
    test = order[: int(len(order) * held_out)]
    pool = order[len(test) :]
    test_archs, y_test = [archs[i] for i in test], y[test]
    # the source's predictor, fitted on its own times of the pool's architectures only
    on_source = [
        (archs[i], float(src_models[archs[i].key])) for i in pool if archs[i].key in src_models
    ]
    source_predictor = LatencyPredictor.fit(source, on_source)
    full_layers = as_table or len(table)
    timed = {k: min(len(table), max(1, round(k * len(table) / full_layers))) for k in sizes}
    plan = plan_transfer(source, table, max(timed.values()), seed=0)
    cost = {
        "layer_s": s_layer,
        "model_s": s_model,
        "table_layers": len(table),
        "full_layers": full_layers,
        "timed_layers": {str(k): v for k, v in timed.items()},
    }
    full_s = full_layers * s_layer + n_models * s_model

    def score(predictor) -> dict:
        return metrics(np.maximum(predictor.predict_many(test_archs), 1e-6), y_test)

    full_rows = dict(zip(layers["key"], layers["median_ms"].astype(float), strict=True))
    full_sums = _sums(test_archs, full_rows)
    lut_sums: dict[str, list[float]] = {}  # method -> RMSPE of held-out LUT sums vs full LUT's

    def transferred(name: str, sample: list[LayerSpec], train) -> dict:
        lut = _copy_without(target, {s.key for s in sample}, tmp)
        with LutStore.edit(lut) as store:
            dataclasses.replace(plan, sample=sample, asked=len(sample)).apply(store)
            rows = {**transferred_ms(store), **store.latency_ms(full_rows)}
        lut_sums.setdefault(name, []).append(_rmspe(_sums(test_archs, rows), full_sums))
        return score(LatencyPredictor.fit(lut, train))

    draws: dict[str, list[dict]] = {}
    for seed in range(seeds):
        picked = random.Random(seed).sample(pool, n_models)
        train = [(archs[i], float(y[i])) for i in picked]
        add = lambda m, f: draws.setdefault(m, []).append(f)  # noqa: E731
        add("calibrate", score(source_predictor.calibrate(train, device=device)))
        add("full LUT", score(LatencyPredictor.fit(target, train)))
        for k in sizes:
            n = timed[k]
            add(f"transfer {k}", transferred(f"transfer {k}", plan.sample[:n], train))
            add(f"random {k}", transferred(f"random {k}", random_sample(table, n, seed), train))
        print(f"  {src_name} -> {device}: draw {seed + 1}/{seeds} done", flush=True)
    layer_counts = {"calibrate": 0, "full LUT": full_layers}
    for k in sizes:
        layer_counts[f"transfer {k}"] = layer_counts[f"random {k}"] = k
    phone = phone_costs()  # the target's own latencies stand in for the phone's
    phone["layer_ms"], phone["model_ms"] = float(layers["median_ms"].mean()), float(y.mean())
    cost["phone"] = phone
    figures = {}
    for m, ds in draws.items():
        seconds = layer_counts[m] * s_layer + n_models * s_model
        figures[m] = {
            **{f: float(np.median([d[f] for d in ds])) for f in FIGURES},
            "profiling_s": seconds,
            "time_share": seconds / full_s,
            "phone_s": phone_seconds(
                phone, layer_counts[m], phone["layer_ms"], n_models, phone["model_ms"]
            ),
        }
    for m, v in lut_sums.items():
        figures[m]["lut_sum_rmspe"] = float(np.median(v))
    ceiling = figures["full LUT"]["rmspe"]
    for f in figures.values():
        f["rmspe_ratio"] = f["rmspe"] / ceiling
    met = {
        m: f["rmspe_ratio"] <= GOAL_RMSPE_RATIO and f["within_10"] >= GOAL_WITHIN_10
        for m, f in figures.items()
        if m.startswith("transfer") and f["time_share"] <= GOAL_TIME_SHARE
    }
    return {
        "source": source,
        "target": target,
        "pair": f"{src_name} -> {device}",
        "held_out": len(test),
        "whole_models_n": n_models,
        "draws": seeds,
        "source_fitted_on": len(on_source),
        "cost": cost,
        "methods": figures,
        "goal_met_by": [m for m, ok in met.items() if ok],
        "goal_checked_on": sorted(met),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--pair",
        nargs=2,
        action="append",
        required=True,
        metavar=("SOURCE.lut", "TARGET.lut"),
        help="full LUTs with whole models of the same architectures (repeatable)",
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 400, 800])
    ap.add_argument("--models", type=int, default=20, help="whole models N (default: 20)")
    ap.add_argument("--seeds", type=int, default=3, help="draws of N (default: %(default)s)")
    ap.add_argument(
        "--as-table",
        type=int,
        metavar="L",
        help="read the sizes as K of an L-layer table (see above; default: the LUTs' own)",
    )
    ap.add_argument(
        "--quick", action="store_true", help="--as-table 2661 --models 10 --seeds 2 (see above)"
    )
    ap.add_argument(
        "--held-out", type=float, default=0.6, help="share of whole models held out (0.6)"
    )
    ap.add_argument("--name", default="transfer", help="results/<name>.json and .png")
    ap.add_argument("--jobs", type=int, default=1, help="pairs run at once (processes)")
    args = ap.parse_args()
    if args.quick:
        args.as_table, args.models, args.seeds = args.as_table or 2661, 10, 2
    from concurrent.futures import ProcessPoolExecutor

    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(args.jobs) as pool:
        settings = (args.sizes, args.models, args.seeds, args.held_out, Path(tmp), args.as_table)
        runs = [pool.submit(run_pair, source, target, *settings) for source, target in args.pair]
        results = [run.result() for run in runs]  # in the order given
    for r in results:
        print("\n".join(lines(r)), flush=True)
    png = RESULTS / f"{args.name}.png"
    plot(results, png)
    write_result(args.name, {"pairs": results, "png": str(png.relative_to(ROOT))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
