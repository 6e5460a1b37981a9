"""Where a search's candidates stand, from its history: the distinct architectures whose
evaluation succeeded, ranked by reward, the best, the Pareto front of accuracy (↑) vs predicted
latency (↓) and the area it dominates. A failed evaluation (accuracy None) ranks nowhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from search.pareto import hypervolume_2d, pareto_front
from search.record import HistoryRow


def distinct_successful(history: Sequence[HistoryRow]) -> list[HistoryRow]:
    """The first row of each distinct architecture whose evaluation succeeded."""
    out: dict[str, HistoryRow] = {}
    for row in history:
        if row.accuracy is not None:
            out.setdefault(row.arch_key, row)
    return list(out.values())


def ranked(history: Sequence[HistoryRow]) -> list[HistoryRow]:
    """Distinct successful architectures by reward, best first (earliest first on ties)."""
    return sorted(distinct_successful(history), key=lambda r: (-r.reward, r.seq))


def best_row(history: Sequence[HistoryRow]) -> HistoryRow | None:
    rows = ranked(history)
    return rows[0] if rows else None


def front(history: Sequence[HistoryRow]) -> list[HistoryRow]:
    """Pareto-optimal distinct architectures (accuracy ↑, predicted latency ↓), fastest first."""
    rows = distinct_successful(history)
    if not rows:
        return []
    idx = pareto_front([r.accuracy for r in rows], [r.latency_ms for r in rows])
    return [rows[int(i)] for i in idx]


def hypervolume(
    history: Sequence[HistoryRow], ref_latency_ms: float, ref_accuracy: float = 0.0
) -> float:
    """Area (accuracy × ms) the candidates dominate inside (latency < ref, accuracy > ref)."""
    rows = distinct_successful(history)
    if not rows:
        return 0.0
    return hypervolume_2d(
        [r.accuracy for r in rows], [r.latency_ms for r in rows], ref_accuracy, ref_latency_ms
    )
