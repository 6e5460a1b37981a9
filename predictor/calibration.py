"""Moving a predictor to a new device with a handful of whole-model measurements.

What carries over between devices is the ranking of networks; what changes is the scale and
how much arithmetic costs against memory traffic (HELP, NeurIPS 2021; DESIGN.md "Calibrating to
a new device"). So the source predictor's latency ``p`` (ms) stays the main input, and the
target's latency is

    k · p + m · MACs + v · act        (MACs and act, the activation elements read and written,
                                       in millions; predictor.features.layer_cost)

with ``m`` and ``v`` pulled towards 0 — the source rescaled by one factor — as far as the points
say: a Bayesian ridge regression of ``y / p`` on ``MACs / p`` and ``act / p``, whose prior
precision maximises the evidence (MacKay; scikit-learn's ``BayesianRidge``). Few or scattered
points keep the map near ``k · p``; many consistent ones free the two terms. This is the
``shrunk`` map, fitted from :data:`SHRUNK_MIN` points on and kept when its leave-one-out error
is not above that of ``scale`` (``k · p``, also used below :data:`SHRUNK_MIN`): with three or
four scattered points the evidence can free both terms and the map pass through every point.
A target
may weigh the terms either way: XNNPACK on the host pays less for memory traffic than ONNX
Runtime does (``v < 0``), torch eager, whose unfused layers each write their activations, more.

An earlier version chose among several maps (power law, per-layer overhead, MACs line, ...) by
leave-one-out error on the N points. On real pairs of devices that choice was the noisiest part
at N ≤ 10 and lost to the one shrunk map (figures in docs/calibrating.md); those maps are still
applied when a predictor calibrated by that version is loaded (:data:`EARLIER`).

The 90 % interval comes from the leave-one-out residuals of the fitted map, widened for small
N. Everything here works on per-network numbers (``p``, MACs, activations, layer count), so it
is tested without any device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from lutnas.errors import LutnasError

FLOOR = 0.01  # no prediction below this share of the source's (a map can go negative)
SHRUNK_MIN = 3  # points from which the shrunk map is fitted (below: one factor)
MAX_INTERVAL_LOG = 50.0  # a 90% interval's half-width in log space, at most (e^50: absurd)
EXACT_LOO_MAX = 100  # up to this many points the shrunk map is refitted for each left out
FITTED = ("scale", "shrunk")
# Maps an earlier version fitted, by their design columns (``power`` is c·p^a): applied when a
# predictor calibrated by it is loaded, never fitted now.
EARLIER = {
    "power": (),
    "overhead": ("p", "layers"),
    "macs": ("macs", "one"),
    "mixed": ("p", "macs"),
    "full": ("p", "macs", "layers", "one"),
}
MODELS = (*FITTED, *EARLIER)


@dataclass(frozen=True, kw_only=True)
class NetworkNumbers:
    """What a calibration sees of one network: the source prediction and three size figures."""

    source_ms: float
    macs_m: float
    act_m: float  # activation elements read and written, millions (predictor.features)
    layers: int


def _column(name: str, x: Sequence[NetworkNumbers]) -> np.ndarray:
    if name == "one":
        return np.ones(len(x))
    attr = {"p": "source_ms", "macs": "macs_m", "act": "act_m", "layers": "layers"}[name]
    return np.array([float(getattr(n, attr)) for n in x])


def _fit(kind: str, x: Sequence[NetworkNumbers], y: np.ndarray) -> np.ndarray:
    """Parameters of ``kind`` (one of :data:`FITTED`) for target latencies ``y``."""
    p = _column("p", x)
    if kind == "scale":  # the k minimising relative squared error
        r = p / y
        return np.array([float(r.sum() / (r * r).sum())])
    from sklearn.linear_model import BayesianRidge  # only calibrating needs it

    z = np.column_stack([_column("macs", x), _column("act", x)]) / p[:, None]
    mean, std = z.mean(axis=0), z.std(axis=0)
    std[std == 0] = 1.0
    fitted = BayesianRidge().fit((z - mean) / std, y / p)
    w = fitted.coef_ / std
    return np.array([fitted.intercept_ - float(w @ mean), *w])


def _apply(kind: str, params: np.ndarray, x: Sequence[NetworkNumbers]) -> np.ndarray:
    p = _column("p", x)
    if kind == "scale":
        return params[0] * p
    if kind == "shrunk":
        return params[0] * p + params[1] * _column("macs", x) + params[2] * _column("act", x)
    if kind == "power":
        return np.exp(params[1]) * p ** params[0]
    return np.column_stack([_column(c, x) for c in EARLIER[kind]]) @ params


def _loo_log_residuals(kind: str, x: Sequence[NetworkNumbers], y: np.ndarray) -> np.ndarray:
    """log(prediction / truth) of each point, predicted by the map fitted on the others.

    Linear in the points: one factor's refits have a closed form; the shrunk map is refitted
    for each point up to :data:`EXACT_LOO_MAX` points, and beyond that left out through the hat
    matrix of the full fit (exact for its prior and noise precisions, which the others would
    barely move)."""
    p = _column("p", x)
    if kind == "scale":
        r = p / y
        s1, s2 = r.sum(), (r * r).sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            k = (s1 - r) / (s2 - r * r)  # k = Σr / Σr² without point i
        pred = k * p
    elif len(y) <= EXACT_LOO_MAX:
        pred = np.empty(len(y))
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            params = _fit(kind, [n for n, k in zip(x, keep, strict=True) if k], y[keep])
            pred[i] = _apply(kind, params, [x[i]])[0]
    else:
        pred = p * _shrunk_loo_ratio(x, y)
    pred = np.maximum(np.nan_to_num(pred, nan=0.0), FLOOR * p)
    return np.log(pred / y)


def _shrunk_loo_ratio(x: Sequence[NetworkNumbers], y: np.ndarray) -> np.ndarray:
    """Leave-one-out ``y / p`` of the shrunk map through the hat matrix: ``t - e / (1 - h)``."""
    from sklearn.linear_model import BayesianRidge

    p = _column("p", x)
    z = np.column_stack([_column("macs", x), _column("act", x)]) / p[:, None]
    std = z.std(axis=0)
    std[std == 0] = 1.0
    zs = (z - z.mean(axis=0)) / std
    t = y / p
    fitted = BayesianRidge().fit(zs, t)
    design = np.column_stack([np.ones(len(t)), zs])
    penalty = np.diag([0.0, *([fitted.lambda_ / fitted.alpha_] * zs.shape[1])])
    inverse = np.linalg.pinv(design.T @ design + penalty)
    leverage = np.einsum("ij,jk,ik->i", design, inverse, design)
    residual = t - fitted.predict(zs)
    return t - residual / np.maximum(1.0 - leverage, 1e-12)


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """A fitted map from the source predictor's latency to the target device's.

    Attributes:
        kind: one of :data:`MODELS` (``scale`` or ``shrunk`` when fitted by this version).
        params: its parameters (``(k,)`` or ``(k, m, v)``; see the module docstring).
        n: measurements it was fitted on.
        loo_rmspe: leave-one-out RMSPE (%) of the fitted map and of one factor (``scale``), by
            kind, for comparison (None: too few points).
        interval_log: half-width of the 90% interval in log space.
    """

    kind: str
    params: tuple[float, ...]
    n: int
    loo_rmspe: dict[str, float | None]
    interval_log: float

    def apply(self, x: Sequence[NetworkNumbers]) -> np.ndarray:
        """Target latency (ms) of each network; never below a hundredth of the source's."""
        pred = _apply(self.kind, np.array(self.params), x)
        floor = FLOOR * np.array([n.source_ms for n in x])
        return np.maximum(pred, floor)

    def choice(self) -> str:
        """Which map was kept and why, in a few words (for reports)."""
        one, shrunk = self.loo_rmspe.get("scale"), self.loo_rmspe.get("shrunk")
        if self.kind == "scale" and shrunk is not None:
            return (
                f"one factor kept: its leave-one-out error ({one:.1f}%) is below the shrunk "
                f"map's ({shrunk:.1f}%) on these {self.n} networks"
            )
        if self.kind == "scale":
            return f"one factor kept: the shrunk map needs {SHRUNK_MIN} networks or more"
        if self.kind == "shrunk":
            return "the shrunk map kept: its leave-one-out error is not above one factor's"
        return f"the {self.kind} map of an earlier lutnas"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        try:
            kind, params = str(d["kind"]), tuple(float(v) for v in d["params"])
            n, width = int(d["n"]), float(d["interval_log"])
            loo = {str(k): (None if v is None else float(v)) for k, v in d["loo_rmspe"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LutnasError(f"a calibration record is damaged ({exc!r})") from None
        if kind not in MODELS or not all(math.isfinite(v) for v in params):
            raise LutnasError(f"a calibration record is damaged (kind {kind!r}, {params})")
        if not (math.isfinite(width) and 0 <= width <= MAX_INTERVAL_LOG):
            raise LutnasError(
                f"a calibration record is damaged (interval_log {width!r}, "
                f"not from 0 to {MAX_INTERVAL_LOG:g})"
            )
        return cls(kind=kind, params=params, n=n, loo_rmspe=loo, interval_log=width)


def fit_calibration(x: Sequence[NetworkNumbers], y_ms: Sequence[float]) -> Calibration:
    """Fit the calibration map for these target measurements: ``shrunk`` from
    :data:`SHRUNK_MIN` points on when its leave-one-out error is not above one factor's
    (with three or four scattered points the shrunk map can pass through every point and
    leave each out badly), one factor otherwise.

    Raises:
        LutnasError: no measurements, or a latency that is not a positive finite number.
    """
    y = np.asarray(y_ms, dtype=float)
    if len(y) == 0:
        raise LutnasError("calibrating needs at least one measured network on the target")
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise LutnasError(f"target latencies must be positive numbers of ms, got {list(y)}")
    if any(not (n.source_ms > 0) for n in x):
        raise LutnasError("the source predictor gave a non-positive latency for a network")
    loo: dict[str, float | None] = {}
    residuals: dict[str, np.ndarray] = {}
    for k in FITTED:
        if len(y) < (2 if k == "scale" else SHRUNK_MIN):  # leave-one-out needs two points
            loo[k] = None
            continue
        residuals[k] = _loo_log_residuals(k, x, y)
        loo[k] = float(100 * np.sqrt(np.mean(np.expm1(residuals[k]) ** 2)))
    kind = "scale"  # the shrunk map when it is fitted and leaves one out no worse
    if loo["shrunk"] is not None and (loo["scale"] is None or loo["shrunk"] <= loo["scale"]):
        kind = "shrunk"
    r = residuals.get(kind)
    width = float(np.quantile(np.abs(r), 0.9)) if r is not None else math.log(1.3)
    width *= 1 + 2 / len(y)  # few points: the residuals understate the spread
    params = tuple(float(v) for v in _fit(kind, x, y))
    return Calibration(kind=kind, params=params, n=len(y), loo_rmspe=loo, interval_log=width)
