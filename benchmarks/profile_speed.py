"""How long a LUT takes against the sum of its timed runs, before and after issue 27.

For each host backend (ONNX Runtime, torch, LiteRT), a table of the mnasnet space at one
resolution is profiled with ``profile-device`` (its defaults: 1 thread, 10 warm-up + 50 runs),
four times, in this order: before with an empty export cache (cold), after cold, before again
on the cache it filled (warm), after warm. *Before* is the code of ``--before-ref`` (default:
main just before issue 27), run from a copy of that commit (``git archive``) in the same
Python environment; *after* is this tree. Each run is a fresh LUT file and its own process, and
its wall time (what a user waits, start-up included) is set against the sum of its timed runs,
Σ median × (warm-up + runs) over its rows (the issue's measure; re-measurements, export, set-up
and start-up are the overhead). Goal: after ≤ 1.3× cold, ≤ 1.15× warm.

It also checks that the LUTs agree row by row within their noise: a backend's before and after
tables are compared with each other (cross pairs) and with their own code's second table (same
code, cold against warm: the run-to-run noise), as the median and p90 of |Δ| / latency and the
median ratio after / before with its 95 % interval.

With ``--phone-layers N`` it adds the emulated phone's seconds per layer split into push, shell
round trip and runner time (``benchmarks/phone_speed.py``, which also runs alone).

    python benchmarks/profile_speed.py                       # the whole table (~1 h, see README)
    python benchmarks/profile_speed.py --limit 300           # a few hundred layers
    python benchmarks/profile_speed.py --limit 20 --backends onnxruntime

Writes ``results/profile_speed.json`` (``profile_speed_limit<N>.json`` with ``--limit``; the
backends' names are appended when only some are run).
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import write_result  # noqa: E402

from lut.measurement import median_ci_ranks  # noqa: E402

BEFORE_REF = "01d9c52"  # main before issue 27 (prepare-ahead, CI re-measure rule)
HOST_BACKENDS = ("onnxruntime", "torch", "litert")
GOAL = {"cold": 1.3, "warm": 1.15}


def checkout(ref: str, into: Path) -> Path:
    """The files of commit ``ref`` of this repository, unpacked into ``into``."""
    archive = into / "before.tar"
    with archive.open("wb") as f:
        subprocess.run(["git", "archive", ref], cwd=ROOT, stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def run_profile(tree: Path, args: argparse.Namespace, backend: str, out: Path, cache: Path) -> dict:
    """One ``profile-device`` run of the code in ``tree``; its wall time and its LUT's sums."""
    cmd = [sys.executable, "-m", "lutnas.cli.profile", "--backend", backend, "--out", str(out)]
    cmd += ["--resolution", str(args.resolution), "--no-progress", "--seed", str(args.seed)]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    env = {**os.environ, "LUTNAS_CACHE_DIR": str(cache), "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall_s = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"profile-device failed ({tree}):\n{done.stderr[-3000:]}")
    con = sqlite3.connect(out)
    rows = con.execute("SELECT key, median_ms, warmup, n, attempts, mean_ms FROM layers").fetchall()
    con.close()
    timed_s = sum(m * (w + n) for _, m, w, n, _, _ in rows) / 1000
    timed_all_s = sum(m * (w + n) * a for _, m, w, n, a, _ in rows) / 1000
    mean_s = sum(mean * (w + n) * a for _, _, w, n, a, mean in rows) / 1000
    moved = re.search(r"(\d+) of them moved", done.stdout)
    loop = re.search(r"^layers: .*?(\d+) s$", done.stdout, re.M)
    return {
        "rows": len(rows),
        "wall_s": round(wall_s, 2),
        "loop_s": int(loop.group(1)) if loop else None,
        "timed_s": round(timed_s, 2),
        "timed_incl_remeasured_s": round(timed_all_s, 2),
        # Σ mean × runs × attempts: the runs' own wall time (a busy machine's slow runs raise
        # the mean, not the median), so wall - this is what the loop spends around them
        "runs_wall_s": round(mean_s, 2),
        "ratio": round(wall_s / timed_s, 3),
        "remeasured_rows": sum(a > 1 for *_, a in rows),
        "moved_rows": int(moved.group(1)) if moved else None,
        "medians": {k: m for k, m, *_ in rows},
    }


def agreement(a: dict[str, float], b: dict[str, float]) -> dict:
    """Row-by-row agreement of two tables: |Δ| / mean latency (median, p90) and the median
    ratio b / a with its 95 % distribution-free interval."""
    keys = sorted(set(a) & set(b))
    x = np.array([a[k] for k in keys])
    y = np.array([b[k] for k in keys])
    rel = np.abs(x - y) / ((x + y) / 2)
    ratio = np.sort(y / x)
    low, high = median_ci_ranks(len(ratio))
    return {
        "rows": len(keys),
        "median_abs_diff": round(float(np.median(rel)), 4),
        "p90_abs_diff": round(float(np.percentile(rel, 90)), 4),
        "median_ratio": round(float(np.median(ratio)), 4),
        "median_ratio_ci95": [round(float(ratio[low - 1]), 4), round(float(ratio[high - 1]), 4)],
    }


def compare_tables(runs: dict[str, dict]) -> dict:
    """Cross pairs (before against after) and same-code pairs (cold against warm)."""
    med = {name: run["medians"] for name, run in runs.items()}
    same = {
        "before cold~warm": agreement(med["before cold"], med["before warm"]),
        "after cold~warm": agreement(med["after cold"], med["after warm"]),
    }
    cross = {
        "cold: before~after": agreement(med["before cold"], med["after cold"]),
        "warm: before~after": agreement(med["before warm"], med["after warm"]),
    }
    noise = max(s["median_abs_diff"] for s in same.values())
    # "within noise": a cross pair's typical difference is no larger than the noisier
    # same-code pair's, give or take a fifth (two estimates of one spread from a few hundred rows)
    verdict = all(c["median_abs_diff"] <= 1.2 * noise for c in cross.values())
    return {"same_code": same, "before_vs_after": cross, "agree_within_noise": verdict}


def host(args: argparse.Namespace, before_tree: Path, work: Path, results: dict, save) -> None:
    """Every backend's runs and comparison into ``results``; ``save()`` after each backend (a
    long run that is cut off keeps what it finished)."""
    for backend in args.backends:
        runs: dict[str, dict] = {}
        for cache_state in ("cold", "warm"):
            for code, tree in (("before", before_tree), ("after", ROOT)):
                name = f"{code} {cache_state}"
                cache = work / backend / code / "cache"  # the warm run reuses the cold one's
                out = work / backend / code / f"{cache_state}.lut"
                out.parent.mkdir(parents=True, exist_ok=True)
                run = run_profile(tree, args, backend, out, cache)
                runs[name] = run
                print(
                    f"{backend:12s} {name:12s} {run['rows']:5d} rows  wall {run['wall_s']:7.1f} s"
                    f" (loop {run['loop_s']} s, runs {run['runs_wall_s']:.1f} s)  "
                    f"timed runs {run['timed_s']:6.1f} s  ratio {run['ratio']:5.2f}x  "
                    f"re-measured {run['remeasured_rows']:4d}"
                    + (f" (moved {run['moved_rows']})" if run["moved_rows"] is not None else ""),
                    flush=True,
                )
        table = compare_tables(runs)
        for pair, a in {**table["same_code"], **table["before_vs_after"]}.items():
            print(
                f"{backend:12s} {pair:20s} |d| median {a['median_abs_diff']:.2%} "
                f"p90 {a['p90_abs_diff']:.2%}  ratio {a['median_ratio']:.3f} "
                f"[{a['median_ratio_ci95'][0]:.3f}, {a['median_ratio_ci95'][1]:.3f}]"
            )
        agree = table["agree_within_noise"]
        print(f"{backend:12s} before and after agree within their noise: {agree}")
        for run in runs.values():
            del run["medians"]
        results[backend] = {
            "runs": runs,
            "goal_met": {s: runs[f"after {s}"]["ratio"] <= GOAL[s] for s in GOAL},
            **table,
        }
        save()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", nargs="+", default=list(HOST_BACKENDS), choices=HOST_BACKENDS)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--limit", type=int, help="a seeded subset of N layers (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--before-ref", default=BEFORE_REF, help="the commit timed as 'before'")
    ap.add_argument("--phone-layers", type=int, default=0, help="also time N phone layers")
    args = ap.parse_args()
    start = time.perf_counter()
    figures: dict = {"resolution": args.resolution, "limit": args.limit, "goal": GOAL}
    figures.update(before_ref=args.before_ref, host={}, complete=False)
    name = "profile_speed" + (f"_limit{args.limit}" if args.limit else "")
    if set(args.backends) != set(HOST_BACKENDS):  # a part: beside the whole run's file
        name += "_" + "_".join(args.backends)

    def save() -> None:
        figures["duration_s"] = round(time.perf_counter() - start)
        write_result(name, figures)

    with tempfile.TemporaryDirectory(prefix="profile_speed_") as tmp:
        work = Path(tmp)
        before_tree = checkout(args.before_ref, work)
        host(args, before_tree, work, figures["host"], save)
    if args.phone_layers:
        from phone_speed import phone

        figures["phone"] = phone(args.phone_layers, args.resolution, args.seed)
    figures["complete"] = True
    save()
    print(f"whole benchmark: {figures['duration_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
