"""How far a search result's predicted latency rests on extrapolation.

A search may hand back architectures the predictor was never fitted on: another resolution,
shapes outside its training networks (out of distribution), layers its LUT lacks (estimated
rows). Each row of ``pareto.csv``/``pareto.json`` and the best in ``summary.json`` carry their
estimated share and OOD flag (:mod:`search.outputs`), and the summary says when the best
itself extrapolates, with what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lutnas.spaces.arch import Arch
from search.rows import HistoryRow

# A prediction with at least this share of its LUT sum estimated is called an extrapolation
# (a missing classifier row or two is not; the layer estimator's error dominates beyond it).
# The same "a quarter or more" as calibration's caveats (predictor/calibrated.py).
ESTIMATED_SHARE_MAX = 0.25


@dataclass(frozen=True, kw_only=True)
class Caveat:
    """What the predictor said about one architecture besides its latency."""

    estimated_share: float  # of its LUT sum resting on estimated rows (0..1)
    out_of_distribution: bool
    ood_reasons: tuple[str, ...]

    @property
    def extrapolated(self) -> bool:
        return self.out_of_distribution or self.estimated_share >= ESTIMATED_SHARE_MAX

    def columns(self) -> dict:
        """The two columns every output row carries."""
        return {
            "estimated_share": round(self.estimated_share, 4),
            "out_of_distribution": self.out_of_distribution,
        }

    def describe(self) -> str:
        """One short clause: why the prediction extrapolates ('' when it does not)."""
        parts = []
        if self.out_of_distribution:
            parts.append("outside the networks fitted on (" + "; ".join(self.ood_reasons[:2]))
            parts[-1] += "; ..." if len(self.ood_reasons) > 2 else ""
            parts[-1] += ")"
        if self.estimated_share >= ESTIMATED_SHARE_MAX:
            parts.append(f"{100 * self.estimated_share:.0f}% of its LUT sum estimated")
        return ", ".join(parts)


def caveats_of(
    rows: Iterable[HistoryRow], predict_detail: Callable[[Arch], object] | None
) -> dict[str, Caveat]:
    """The caveat of each row's architecture by arch key; empty when the predictor gives no
    detailed predictions (a :class:`~search.latency_model.LatencyModel` need not)."""
    if predict_detail is None:
        return {}
    out: dict[str, Caveat] = {}
    for row in rows:
        if row.arch_key not in out:
            detail = predict_detail(Arch.from_json(row.arch_json))
            out[row.arch_key] = Caveat(
                estimated_share=float(detail.estimated_share),
                out_of_distribution=bool(detail.out_of_distribution),
                ood_reasons=tuple(detail.ood_reasons),
            )
    return out
