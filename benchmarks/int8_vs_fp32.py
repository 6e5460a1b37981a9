"""int8 against fp32 on the host's LiteRT backend (XNNPACK, 1 thread): what int8 changes.

    python benchmarks/int8_vs_fp32.py --archs 200 --layers 300 --out out/int8_vs_fp32

1. **Per op kind**: every layer of the whole models below and ``--layers`` sampled layers of the
   MnasNet space, each timed in int8 and in fp32 in turns (``profiler.timing.time_in_turns``:
   the two share the machine's state within a fraction of a second, so their ratio holds on a
   busy machine). The int8/fp32 ratio per op kind and per feature (SE, activation, kernel, skip):
   median and p10-p90.
2. **Whole models**: ``--archs`` random architectures of the MobileNetV3 (OFA) space, timed the
   same way and in turns with the drift reference (rescaled to the machine's calibrated speed,
   as profile-device does): the ratio per model, and Kendall's τ between the int8 and the fp32
   ranking. The held-out quarter is timed a second time: τ of each precision against its own
   repeat is the baseline (the noise), beside τ of int8 against fp32 on the same models.
3. **The predictor**: both measurements go into a LUT each (fp32, int8: the same rows, the same
   whole models); ``lutnas fit``'s model is fitted on each LUT's training split and scored on the
   same held-out architectures (``predictor.evaluate``), ours against the scaled LUT sum.

Writes both LUTs under ``--out``, ``benchmarks/results/int8_vs_fp32.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import RESULTS, write_result  # noqa: E402

from lut.spec import LayerSpec  # noqa: E402
from lut.store import LutStore  # noqa: E402
from lutnas.spaces.sampling import sample_archs  # noqa: E402
from lutnas.spaces.space import get_space  # noqa: E402
from profiler.backends.litert import LiteRtBackend  # noqa: E402
from profiler.loop import ProfileSettings  # noqa: E402
from profiler.networks import REPEATS_KEY, repeat_measurements  # noqa: E402
from profiler.reference import (  # noqa: E402
    CALIBRATION_FACTOR,
    Reference,
    reference_workload,
    stored_reference,
)
from profiler.timing import time_in_turns  # noqa: E402
from profiler.workloads import arch_workload, layer_workload  # noqa: E402


def spread(values) -> dict:
    v = np.asarray(list(values), dtype=float)
    return {
        "n": int(len(v)),
        "median": float(np.median(v)),
        "p10": float(np.percentile(v, 10)),
        "p90": float(np.percentile(v, 90)),
    }


def features(spec: LayerSpec) -> list[str]:
    """The groups a layer counts in: its op kind, and within mbconv its distinguishing
    features."""
    out = [spec.op]
    if spec.op == "mbconv":
        out.append("mbconv with SE" if spec.se_ratio > 0 else "mbconv without SE")
        out.append(f"mbconv {spec.act}")
        out.append(f"mbconv k{spec.kernel}")
        out.append(f"mbconv {spec.skip}")
    return out


class Timer:
    """Times workloads in int8 and fp32 in turns (``profiler.timing.time_in_turns``); whole
    models also in turns with the drift reference (``profiler.reference``: MnasNet-A1 at 224,
    fp32), so both are rescaled to the machine's speed at calibration, as profile-device does."""

    def __init__(self, backends, settings: ProfileSettings, stores) -> None:
        self.fp32, self.int8 = backends
        self.settings = settings
        known = stored_reference(stores[0].meta.get("drift_reference"))
        if known is None:  # calibrate once per pair of LUTs; a resumed run reuses it
            workload = reference_workload()
            m = self.fp32.measure(workload, settings.warmup, settings.runs * CALIBRATION_FACTOR)
            known = Reference(workload, m.median_ms)
            record = {"key": workload.key, "nominal_ms": m.median_ms, "runs": m.n}
            for store in stores:
                store.set_meta("drift_reference", record)
        self.reference = known
        self._reference_run = self.fp32.prepared(known.workload)

    def pair(self, workload, corrected: bool):
        """(fp32, int8) measurements of ``workload``; None when either precision fails."""
        try:
            runs = [self.fp32.prepared(workload), self.int8.prepared(workload)]
            if corrected:
                runs.append(self._reference_run)
            ms = time_in_turns(runs, self.settings.warmup, self.settings.runs)
        except Exception as exc:  # a workload either backend cannot run: reported, skipped
            print(f"  skipped {workload.key}: {exc}", file=sys.stderr)
            return None
        if corrected:
            return tuple(self.reference.correct(m, ms[2]) for m in ms[:2])
        return ms[0], ms[1]


def stored(stores, kind: str) -> dict:
    """key -> (fp32 ms, int8 ms) of what both stores already hold (a resumed run)."""
    frames = [s.layers_frame() if kind == "layer" else s.models_frame() for s in stores]
    column = "key" if kind == "layer" else "arch_key"
    ms = [dict(zip(f[column], f["median_ms"], strict=True)) for f in frames]
    return {k: (ms[0][k], ms[1][k]) for k in ms[0].keys() & ms[1].keys()}


def _progress(kind: str, i: int, n: int, start: float) -> None:
    if i % 25 == 0 or i == n:
        elapsed = time.perf_counter() - start
        print(f"  {kind}: {i}/{n}, {elapsed:.0f} s, about {elapsed / i * (n - i):.0f} s left")


def measure(items, kind: str, timer: Timer, stores) -> dict:
    """Time every item (LayerSpec or Arch) in both precisions into both stores (layers back to
    back, whole models drift-corrected); returns key -> (fp32 ms, int8 ms). Rows already in
    both stores are reused (the run resumes)."""
    out = stored(stores, kind)
    todo = [item for item in items if item.key not in out]
    start = time.perf_counter()
    for i, item in enumerate(todo, 1):
        workload = layer_workload(item) if kind == "layer" else arch_workload(item)
        pair = timer.pair(workload, corrected=kind == "model")
        if pair is not None:
            for store, m in zip(stores, pair, strict=True):
                (store.put_layer if kind == "layer" else store.put_model)(item, m)
            out[item.key] = (pair[0].median_ms, pair[1].median_ms)
        _progress(f"{kind}s", i, len(todo), start)
    return {item.key: out[item.key] for item in items if item.key in out}


def repeat(archs, timer: Timer, stores) -> dict:
    """A second (drift-corrected) measurement of ``archs`` in both precisions, recorded as the
    LUTs' repeat measurements (``predictor.evaluate`` takes the median as the held-out truth
    and reports the noise); key -> (fp32 ms, int8 ms) of the repeat."""
    done = [repeat_measurements(s.meta) for s in stores]
    start = time.perf_counter()
    for i, arch in enumerate(archs, 1):
        if all(done[j].get(arch.key) for j in (0, 1)):
            continue
        pair = timer.pair(arch_workload(arch), corrected=True)
        if pair is not None:
            for j, (store, m) in enumerate(zip(stores, pair, strict=True)):
                done[j][arch.key] = [m.median_ms]
                store.set_meta(REPEATS_KEY, done[j])
        _progress("repeats", i, len(archs), start)
    return {a.key: (done[0][a.key][0], done[1][a.key][0]) for a in archs if a.key in done[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archs", type=int, default=200, help="whole models (MobileNetV3 space)")
    ap.add_argument("--layers", type=int, default=300, help="extra MnasNet-space layers")
    ap.add_argument("--resolution", type=int, default=160)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="out/int8_vs_fp32", help="directory of the two LUTs")
    args = ap.parse_args()
    from scipy.stats import kendalltau

    from predictor.evaluate import evaluate, split

    settings = ProfileSettings(warmup=args.warmup, runs=args.runs, drift_correction=True)
    archs = sample_archs(get_space("mobilenetv3"), args.archs, args.seed, (args.resolution,))
    layers = {s.key: s for a in archs for s in a.layers()}
    mnas = get_space("mnasnet").unique_layers(args.resolution)
    random.Random(args.seed).shuffle(mnas)
    layers |= {s.key: s for s in mnas[: args.layers]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backends = (LiteRtBackend(threads=1), LiteRtBackend(threads=1, precision="int8"))
    paths = [out / "fp32.lut", out / "int8.lut"]
    started = time.perf_counter()
    with backends[0], backends[1]:
        stores = [
            LutStore.create_or_resume(p, b.config(), b.device_info(), settings.identity())
            for p, b in zip(paths, backends, strict=True)
        ]
        try:
            print(f"{len(layers)} layers and {len(archs)} whole models, int8 and fp32 in turns")
            items = list(layers.values())
            random.Random(args.seed).shuffle(items)  # spread the machine's drift over kinds
            timer = Timer(backends, settings, stores)
            layer_ms = measure(items, "layer", timer, stores)
            model_ms = measure(archs, "model", timer, stores)
            _, test = split(stores[0].models_frame())  # the held-out models: measured again
            held_out = [a for a in archs if a.key in set(test["arch_key"])]
            repeats = repeat(held_out, timer, stores)
        finally:
            for s in stores:
                s.close()
    seconds = time.perf_counter() - started

    by_kind: dict[str, list[float]] = {}
    for key, (ms32, ms8) in layer_ms.items():
        for group in features(LayerSpec.from_key(key)):
            by_kind.setdefault(group, []).append(ms8 / ms32)
    kinds = {k: spread(v) for k, v in sorted(by_kind.items())}
    keys = [a.key for a in archs if a.key in model_ms]
    fp32 = np.array([model_ms[k][0] for k in keys])
    int8 = np.array([model_ms[k][1] for k in keys])
    tau = float(kendalltau(fp32, int8).statistic)
    again = [k for k in keys if k in repeats]  # the held-out models, timed twice
    first32 = np.array([model_ms[k][0] for k in again])
    noise = {
        "n": len(again),
        "kendall_tau_fp32_vs_its_repeat": float(
            kendalltau(first32, [repeats[k][0] for k in again]).statistic
        ),
        "kendall_tau_int8_vs_its_repeat": float(
            kendalltau([model_ms[k][1] for k in again], [repeats[k][1] for k in again]).statistic
        ),
        "kendall_tau_int8_vs_fp32_same_models": float(
            kendalltau(first32, [model_ms[k][1] for k in again]).statistic
        ),
        "repeat_over_first_fp32": spread(np.array([repeats[k][0] for k in again]) / first32),
    }
    reports = {
        name: evaluate(p, curve_sizes=None, estimator_share=None)
        for name, p in zip(("fp32", "int8"), paths, strict=True)
    }
    predictor = {
        name: {
            "n_train": r.n_train,
            "n_test": r.n_test,
            "ours": r.test["ours"],
            "lut-sum×k": r.test["lut-sum×k"],
        }
        for name, r in reports.items()
    }
    figures = {
        "backend": "litert, XNNPACK, 1 thread; int8 and fp32 timed in turns per workload",
        "resolution": args.resolution,
        "warmup": args.warmup,
        "runs": args.runs,
        "seconds": round(seconds, 1),
        "layers": len(layer_ms),
        "int8_over_fp32_by_kind": kinds,
        "whole_models": {
            "space": "mobilenetv3",
            "n": len(keys),
            "int8_over_fp32": spread(int8 / fp32),
            "fp32_ms": spread(fp32),
            "int8_ms": spread(int8),
            "kendall_tau_int8_vs_fp32_ranking": tau,
            "noise_baseline_held_out": noise,
        },
        "predictor_held_out": predictor,
        "luts": [str(p) for p in paths],
    }
    print_report(figures)
    write_result("int8_vs_fp32", figures)
    plot(RESULTS / "int8_vs_fp32.png", kinds, fp32, int8, tau)


def print_report(f: dict) -> None:
    print(f"\nint8 / fp32 latency on {f['backend']}, {f['resolution']}px ({f['seconds']:.0f} s)")
    print(f"{'op kind':<22}{'n':>5}{'median':>9}{'p10':>8}{'p90':>8}")
    for kind, s in f["int8_over_fp32_by_kind"].items():
        print(f"{kind:<22}{s['n']:>5}{s['median']:>9.3f}{s['p10']:>8.3f}{s['p90']:>8.3f}")
    w = f["whole_models"]
    r = w["int8_over_fp32"]
    print(
        f"whole models ({w['space']}, {w['n']}): int8/fp32 median {r['median']:.3f} "
        f"(p10 {r['p10']:.3f}, p90 {r['p90']:.3f}); fp32 median {w['fp32_ms']['median']:.2f} ms"
    )
    tau, nb = w["kendall_tau_int8_vs_fp32_ranking"], w["noise_baseline_held_out"]
    print(f"Kendall τ between the int8 and the fp32 ranking: {tau:.3f}")
    print(
        f"  baseline, the {nb['n']} held-out models timed twice: τ fp32 vs its repeat "
        f"{nb['kendall_tau_fp32_vs_its_repeat']:.3f}, int8 vs its repeat "
        f"{nb['kendall_tau_int8_vs_its_repeat']:.3f}; int8 vs fp32 on them "
        f"{nb['kendall_tau_int8_vs_fp32_same_models']:.3f}"
    )
    print("predictor, held-out architectures (the same ones for both LUTs):")
    for name, p in f["predictor_held_out"].items():
        o, b = p["ours"], p["lut-sum×k"]
        print(
            f"  {name}: ours {100 * o['within_10']:.1f}% within ±10%, {100 * o['within_5']:.1f}% "
            f"within ±5%, RMSPE {o['rmspe']:.2f}%, τ {o['kendall_tau']:.3f}  "
            f"(scaled LUT sum: RMSPE {b['rmspe']:.2f}%; "
            f"ratio ours/sum {o['rmspe'] / b['rmspe']:.2f})"
        )


def plot(path: Path, kinds: dict, fp32: np.ndarray, int8: np.ndarray, tau: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.8))
    names = list(kinds)
    med = np.array([kinds[k]["median"] for k in names])
    lo = med - np.array([kinds[k]["p10"] for k in names])
    hi = np.array([kinds[k]["p90"] for k in names]) - med
    a.barh(names, med, xerr=[lo, hi], color="tab:blue", alpha=0.7)
    a.axvline(1.0, color="k", lw=0.8)
    a.set_xlabel("int8 / fp32 latency (median, p10-p90)")
    a.set_title("layers by op kind")
    a.invert_yaxis()
    b.scatter(fp32, int8, s=10)
    lim = [min(fp32.min(), int8.min()) * 0.9, max(fp32.max(), int8.max()) * 1.1]
    b.plot(lim, lim, "k--", lw=0.8, label="int8 = fp32")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("fp32 latency (ms)")
    b.set_ylabel("int8 latency (ms)")
    b.set_title(f"{len(fp32)} whole models; Kendall τ of the rankings {tau:.3f}")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


if __name__ == "__main__":
    main()
