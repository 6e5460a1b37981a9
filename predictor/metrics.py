"""The accuracy report's figures and the simple predictors ours is compared with.

Predictors (all fitted on the same training measurements):

- ``flops-linear``: latency = a · MACs + b, least squares;
- ``lut-sum``: the plain sum of the LUT rows;
- ``lut-sum×k``: the LUT sum times one factor k = exp(mean log(measured / LUT sum));
- ``ours``: :class:`~predictor.api.LatencyPredictor`.

Figures: share within ±5% and ±10%, RMSPE, Kendall τ (:func:`metrics`), and the noise of the
ground truth from repeated measurements (:func:`repeat_noise`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau

from predictor.model import accuracy

PREDICTORS = ("flops-linear", "lut-sum", "lut-sum×k", "ours")


def metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Accuracy figures plus Kendall τ of the ranking."""
    out = accuracy(pred, true)
    out["kendall_tau"] = float(kendalltau(pred, true)[0]) if len(true) > 2 else math.nan
    return out


@dataclass
class Baselines:
    """The three simple predictors, fitted on training networks."""

    flops_a: float
    flops_b: float
    factor: float

    @classmethod
    def fit(cls, macs_m: np.ndarray, lut_ms: np.ndarray, true_ms: np.ndarray) -> Baselines:
        a, b = np.polyfit(macs_m, true_ms, 1)
        return cls(
            flops_a=float(a),
            flops_b=float(b),
            factor=float(np.exp(np.mean(np.log(true_ms / lut_ms)))),
        )

    def predict(self, macs_m: np.ndarray, lut_ms: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "flops-linear": self.flops_a * macs_m + self.flops_b,
            "lut-sum": lut_ms,
            "lut-sum×k": self.factor * lut_ms,
        }


def repeat_noise(measurements: Sequence[Sequence[float]]) -> dict:
    """Noise of the ground truth from repeated measurements of the same networks (each entry:
    two or more independent measurements of one network, in ms).

    ``rms_pct_single`` is the noise of one measurement: the pooled RMS of the relative
    deviations from each network's mean (with k − 1 degrees of freedom per network);
    ``robust_pct_single`` the same from the median pair difference; the pair figures compare
    the first two measurements of each network.
    """
    groups = [np.asarray(m, dtype=float) for m in measurements if len(m) >= 2]
    dev = np.concatenate([g / g.mean() - 1 for g in groups])
    dof = sum(len(g) - 1 for g in groups)
    diff = np.array([(g[1] - g[0]) / g[:2].mean() for g in groups])
    every_pair = np.array(
        [
            (g[j] - g[i]) / ((g[i] + g[j]) / 2)
            for g in groups
            for i in range(len(g))
            for j in range(i + 1, len(g))
        ]
    )
    return {
        # the same from the median absolute pair difference: insensitive to a few gross outliers
        "robust_pct_single": float(100 * 1.4826 * np.median(np.abs(every_pair)) / math.sqrt(2)),
        "models": len(groups),
        "measurements": int(sum(len(g) for g in groups)),
        "rms_pct_single": float(100 * np.sqrt(np.sum(dev**2) / dof)),
        "rms_pct_pair": float(100 * np.sqrt(np.mean(diff**2))),
        "pair_within_5": float(np.mean(np.abs(diff) <= 0.05)),
        "pair_within_10": float(np.mean(np.abs(diff) <= 0.10)),
    }
