"""What a search leaves in its ``--out`` directory, written from the record. Each file is
written under a temporary name and renamed into place (:mod:`lutnas.atomicfile`): a full disk
or a kill leaves the previous file or none, never a truncated one, and the error names it.

    candidates.csv   every told candidate in order: seq, batch, SCORE, latency_ms, reward, ...
                     where SCORE is ``accuracy``, or ``zero_cost_score`` for a proxy evaluator
                     (:func:`score_column`; the same column name in pareto.csv/json)
    pareto.csv       the Pareto front of accuracy (↑) vs predicted latency (↓), one row per
                     distinct architecture, fastest first, each with the share of its LUT
                     sum that is estimated and its out-of-distribution flag
                     (:mod:`search.caveats`)
    pareto.json      the same with each architecture's JSON, the score's meaning, T and the
                     front's hypervolume
    pareto.png       all candidates (grey), the front (red), T (dashed), the best (star)
                     (:mod:`search.front_plot`)
    best_arch.json   the highest-reward architecture (``lutnas.spaces.arch.Arch`` JSON)
    best_arch.onnx   that architecture exported to ONNX (batch 1, fp32, at its resolution,
                     the space's 1000-class head: the network whose latency was predicted)
    best_arch.tflite the same network as a phone runs it, in the predictor's precision
                     (:mod:`profiler.deploy`: int8 fully quantized, else the fp32 file)
    summary.json     configuration, counts, the best candidate (and whether its predicted
                     latency extrapolates: ``best_extrapolated``, ``best_caveat``),
                     hypervolume, timings

Rebuilding the best network in torch (random weights; train it on your data)::

    from pathlib import Path
    from lutnas.spaces.arch import Arch
    arch = Arch.from_json(Path("OUT/best_arch.json").read_text())
    net = arch.build()                 # nn.Sequential, input (N, 3, arch.resolution, ...)
    net = arch.build(num_classes=10)   # the same body with a 10-class classifier

Candidates whose evaluation failed (accuracy empty) are listed in ``candidates.csv`` but are on
no front and never the best (:mod:`search.standings`: which candidates rank where).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lutnas.atomicfile import copy_file, replace_atomically, write_text
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from search.caveats import Caveat, caveats_of
from search.front_plot import plot_front
from search.record import HistoryRow
from search.standings import best_row, distinct_successful, front, hypervolume, ranked

__all__ = [  # the standings are re-exported: callers and docs import them from here
    "OutputPaths",
    "best_row",
    "distinct_successful",
    "front",
    "hypervolume",
    "plot_front",
    "ranked",
    "score_column",
    "write_outputs",
]

README_TEXT = """Files of a lutnas search (see search/outputs.py):
candidates.csv  every candidate told to the strategy, in order
pareto.csv/json the Pareto front of {score} vs predicted latency (ms)
pareto.png      its plot
best_arch.json  the highest-reward architecture; rebuild it in torch with
                  Arch.from_json(open("best_arch.json").read()).build(num_classes=N)
                (from lutnas.spaces.arch import Arch)
best_arch.onnx  that architecture in ONNX (batch 1, fp32, 1000 classes)
best_arch.tflite  the same for a phone, in the predictor's precision (see summary.json's
                phone_file for the benchmark_model command that times it)
summary.json    configuration, counts, best candidate, hypervolume, timings
search.sqlite   the record: run the same command again to resume or extend the search
"""


@dataclass(frozen=True, kw_only=True)
class OutputPaths:
    candidates_csv: Path
    pareto_csv: Path
    pareto_json: Path
    pareto_png: Path
    best_json: Path | None
    best_onnx: Path | None
    summary_json: Path
    best_tflite: Path | None = None


def score_column(is_proxy: bool) -> str:
    """The name of the score's column in the output files: a training-free proxy's score is
    not an accuracy, so it is not called one."""
    return "zero_cost_score" if is_proxy else "accuracy"


def _row_dict(
    r: HistoryRow, column: str = "accuracy", caveats: Mapping[str, Caveat] | None = None
) -> dict:
    arch = Arch.from_json(r.arch_json)
    caveat = (caveats or {}).get(r.arch_key)
    return {
        "seq": r.seq,
        "short_id": arch.short_id,
        column: r.accuracy,
        "latency_ms": r.latency_ms,
        "reward": r.reward,
        # None (an empty CSV cell) when the predictor gives no detailed predictions
        **(caveat.columns() if caveat else {"estimated_share": None, "out_of_distribution": None}),
        "arch_key": r.arch_key,
    }


def _best_record(best: HistoryRow, column: str, caveats: Mapping[str, Caveat]) -> dict:
    """summary.json's best: its row, reasons, JSON, and whether its latency extrapolates."""
    caveat = caveats.get(best.arch_key)
    record = {**_row_dict(best, column, caveats), "arch": json.loads(best.arch_json)}
    if caveat is None:
        return {"best": record, "best_extrapolated": None, "best_caveat": ""}
    record["ood_reasons"] = list(caveat.ood_reasons)
    note = ""
    if caveat.extrapolated:
        note = (
            f"its predicted latency extrapolates: {caveat.describe()}; measure it with --verify "
            "K, or search only what the predictor was fitted on (--resolution R)"
        )
    return {"best": record, "best_extrapolated": caveat.extrapolated, "best_caveat": note}


def _write_csv(path: Path, rows: list[dict]) -> None:
    with replace_atomically(path, newline="") as f:
        if not rows:
            f.write("")
            return
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def export_onnx(arch: Arch, path: Path) -> Path:
    """Export ``arch`` (eval mode, the space's head) to ``path`` with the profiler's exporter,
    so the file is the one the host backends time.

    Raises:
        LutnasError: the export failed.
    """
    from profiler.export import onnx_path
    from profiler.workloads import arch_workload

    return copy_file(onnx_path(arch_workload(arch)), path)


def write_outputs(
    history: Sequence[HistoryRow],
    out_dir: str | Path,
    *,
    score_label: str,
    is_proxy: bool,
    target_ms: float,
    summary: dict | None = None,
    onnx: bool = True,
    predict_detail: Callable[[Arch], object] | None = None,
    tflite_precision: str | None = None,
) -> OutputPaths:
    """Write every file listed in the module docstring into ``out_dir``.

    The hypervolume's reference point is (accuracy 0, latency 2·T). ``predict_detail`` (the
    predictor's) gives the rows' estimated share and OOD flag; without it those are empty.

    Raises:
        LutnasError: no candidate at all (nothing to write), or the ONNX export failed.
    """
    if not history:
        raise LutnasError("the search record holds no candidate yet; run the search first")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = OutputPaths(
        candidates_csv=out / "candidates.csv",
        pareto_csv=out / "pareto.csv",
        pareto_json=out / "pareto.json",
        pareto_png=out / "pareto.png",
        best_json=None,
        best_onnx=None,
        summary_json=out / "summary.json",
    )
    column = score_column(is_proxy)
    _write_csv(
        paths.candidates_csv,
        [
            {
                "seq": r.seq,
                "batch": r.batch,
                column: "" if r.accuracy is None else r.accuracy,
                "latency_ms": r.latency_ms,
                "reward": r.reward,
                "reused": int(r.reused),
                "arch_key": r.arch_key,
            }
            for r in history
        ],
    )
    pf = front(history)
    best = best_row(history)
    caveats = caveats_of([*pf, *([best] if best else [])], predict_detail)
    _write_csv(
        paths.pareto_csv,
        [{"rank": i, **_row_dict(r, column, caveats)} for i, r in enumerate(pf)],
    )
    ref_latency_ms = 2.0 * target_ms
    hv = hypervolume(history, ref_latency_ms)
    write_text(
        paths.pareto_json,
        json.dumps(
            {
                "score": score_label,
                "is_proxy": is_proxy,
                "target_ms": target_ms,
                "hypervolume": {
                    "value": hv,
                    "ref_accuracy": 0.0,
                    "ref_latency_ms": ref_latency_ms,
                    "unit": "accuracy x ms",
                },
                "front": [
                    {
                        **_row_dict(r, column, caveats),
                        "ood_reasons": list(caveats[r.arch_key].ood_reasons)
                        if r.arch_key in caveats
                        else None,
                        "arch": json.loads(r.arch_json),
                    }
                    for r in pf
                ],
            },
            indent=1,
        ),
    )
    plot_front(history, paths.pareto_png, score_label, target_ms)
    if best is not None:
        best_json = out / "best_arch.json"
        write_text(best_json, json.dumps(json.loads(best.arch_json), indent=1, sort_keys=True))
        best_onnx = (
            export_onnx(Arch.from_json(best.arch_json), out / "best_arch.onnx") if onnx else None
        )
        paths = replace(paths, best_json=best_json, best_onnx=best_onnx)
        if tflite_precision is not None:
            from profiler.deploy import write_tflite

            best_tflite = write_tflite(
                Arch.from_json(best.arch_json), out / "best_arch.tflite", tflite_precision
            )
            paths = replace(paths, best_tflite=best_tflite)
    values = np.array([r.accuracy is None for r in history])
    write_text(
        paths.summary_json,
        json.dumps(
            {
                **(summary or {}),
                "candidates": len(history),
                "distinct": len({r.arch_key for r in history}),
                "failed": int(values.sum()),
                "score": score_label,
                "is_proxy": is_proxy,
                "target_ms": target_ms,
                "front_size": len(pf),
                "hypervolume": {"value": hv, "ref_accuracy": 0.0, "ref_latency_ms": ref_latency_ms},
                **(
                    {"best": None, "best_extrapolated": None, "best_caveat": ""}
                    if best is None
                    else _best_record(best, column, caveats)
                ),
            },
            indent=1,
            default=str,
        ),
    )
    write_text(out / "README.txt", README_TEXT.format(score=score_label))
    return paths
