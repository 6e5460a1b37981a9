"""``pareto.png`` of a search: every candidate, the front, the target T and the best."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lutnas.atomicfile import replace_atomically
from search.record import HistoryRow
from search.standings import best_row, distinct_successful, front


def plot_front(
    history: Sequence[HistoryRow], path: Path, score_label: str, target_ms: float
) -> Path:
    """Scatter of every candidate, the front as a step line, T and the best marked (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = distinct_successful(history)
    fig = Figure(figsize=(7, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if rows:
        ax.scatter(
            [r.latency_ms for r in rows],
            [r.accuracy for r in rows],
            s=10,
            color="0.6",
            label=f"candidates ({len(rows)})",
        )
        pf = front(history)
        ax.step(
            [r.latency_ms for r in pf],
            [r.accuracy for r in pf],
            where="post",
            color="tab:red",
            marker="o",
            markersize=4,
            label=f"Pareto front ({len(pf)})",
        )
        best = best_row(history)
        if best is not None:
            ax.scatter(
                [best.latency_ms],
                [best.accuracy],
                marker="*",
                s=180,
                color="tab:blue",
                zorder=5,
                label=f"best reward {best.reward:.4f}",
            )
    ax.axvline(target_ms, linestyle="--", color="k", linewidth=1, label=f"T = {target_ms:g} ms")
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel(score_label)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with replace_atomically(path, "wb") as f:
        fig.savefig(f, format="png")
    return path
