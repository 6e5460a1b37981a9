"""Moving a predictor to a new device with a handful of whole-model measurements.

What carries over between devices is the ranking of networks; what changes is the scale, how
much arithmetic costs against memory traffic, and fixed per-layer overhead (HELP, NeurIPS 2021;
DESIGN.md "Calibrating to a new device"). So the source predictor's latency ``p`` stays the main
input and a few free parameters map it to the target, more of them only as the points allow:

==========  ==================================================  ==============
model       target latency                                      needs N points
==========  ==================================================  ==============
scale       ``k · p``                                           1
power       ``c · p^a`` (small networks relatively slower)      4
overhead    ``k · p + b · layers``                              4
macs        ``m · MACs + d`` (the source's ranking dropped)     4
mixed       ``k · p + m · MACs``                                4
full        ``k · p + m · MACs + b · layers + d`` (ridge)       10
==========  ==================================================  ==============

``macs`` is there for targets whose latency follows arithmetic more closely than the source's
does (the host's ONNX Runtime → XNNPACK on the host: the plain MACs line beat every map of the
ONNX Runtime predictor; docs/calibrating.md); when it wins, the calibrated predictor says so.

The model is chosen by leave-one-out relative error (RMSPE) on the N points, the simplest one
winning ties within 1 %; the 90 % interval comes from the leave-one-out residuals, widened for
small N. Everything here is pure numpy on per-network numbers (``p`` in ms, MACs in millions,
layer count), so it is tested without any device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from lutnas.errors import LutnasError

MODELS = ("scale", "power", "overhead", "macs", "mixed", "full")
MIN_POINTS = {"scale": 1, "power": 4, "overhead": 4, "macs": 4, "mixed": 4, "full": 10}
_COLUMNS = {  # the linear models' design columns
    "overhead": ("p", "layers"),
    "macs": ("macs", "one"),
    "mixed": ("p", "macs"),
    "full": ("p", "macs", "layers", "one"),
}
TIE = 0.01  # a more complex model must beat a simpler one by this much (LOO RMSPE) to win
RIDGE = 0.1  # pull of the full model towards the scale model, relative to the data's size


@dataclass(frozen=True, kw_only=True)
class NetworkNumbers:
    """What a calibration sees of one network: the source prediction and two size figures."""

    source_ms: float
    macs_m: float
    layers: int


def _design(kind: str, x: Sequence[NetworkNumbers]) -> np.ndarray:
    values = {
        "p": [n.source_ms for n in x],
        "macs": [n.macs_m for n in x],
        "layers": [n.layers for n in x],
        "one": np.ones(len(x)),
    }
    return np.column_stack([values[c] for c in _COLUMNS[kind]]).astype(float)


def _fit(kind: str, x: Sequence[NetworkNumbers], y: np.ndarray) -> np.ndarray:
    """Parameters of ``kind`` fitted on relative error (each point weighted by 1/y)."""
    p = np.array([n.source_ms for n in x])
    if kind == "scale":  # the k minimising relative squared error
        r = p / y
        return np.array([float(r.sum() / (r * r).sum())])
    if kind == "power":  # log y = a log p + log c
        a, log_c = np.polyfit(np.log(p), np.log(y), 1)
        return np.array([a, log_c])
    design = _design(kind, x) / y[:, None]
    target = np.ones(len(y))
    if kind != "full":
        params, *_ = np.linalg.lstsq(design, target, rcond=None)
        return params
    # full: ridge towards (k from the scale model, 0, 0, 0), scaled to the columns' size
    prior = np.array([_fit("scale", x, y)[0], 0.0, 0.0, 0.0])
    scale = np.sqrt((design**2).mean(axis=0)) + 1e-12
    lam = RIDGE * len(y)
    a = design.T @ design + lam * np.diag(scale**2)
    b = design.T @ target + lam * np.diag(scale**2) @ prior
    return np.linalg.solve(a, b)


def _apply(kind: str, params: np.ndarray, x: Sequence[NetworkNumbers]) -> np.ndarray:
    p = np.array([n.source_ms for n in x])
    if kind == "scale":
        return params[0] * p
    if kind == "power":
        return np.exp(params[1]) * p ** params[0]
    return _design(kind, x) @ params


def _loo_log_residuals(kind: str, x: Sequence[NetworkNumbers], y: np.ndarray) -> np.ndarray:
    """log(prediction / truth) of each point, predicted by the model fitted on the others."""
    out = []
    for i in range(len(y)):
        keep = [j for j in range(len(y)) if j != i]
        params = _fit(kind, [x[j] for j in keep], y[keep])
        pred = float(_apply(kind, params, [x[i]])[0])
        out.append(math.log(pred / y[i]) if pred > 0 else math.inf)
    return np.array(out)


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """A fitted map from the source predictor's latency to the target device's.

    Attributes:
        kind: one of :data:`MODELS`.
        params: its parameters (see the module docstring for their order).
        n: measurements it was fitted on.
        loo_rmspe: leave-one-out RMSPE (%) of every model tried, by kind (None: too few points).
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
        floor = 0.01 * np.array([n.source_ms for n in x])
        return np.maximum(pred, floor)

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
        if kind not in MODELS or not all(math.isfinite(v) for v in params) or width < 0:
            raise LutnasError(f"a calibration record is damaged (kind {kind!r}, {params})")
        return cls(kind=kind, params=params, n=n, loo_rmspe=loo, interval_log=width)


def fit_calibration(x: Sequence[NetworkNumbers], y_ms: Sequence[float]) -> Calibration:
    """Choose and fit the calibration model for these target measurements.

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
    for kind in MODELS:
        if len(y) < max(2, MIN_POINTS[kind]):  # leave-one-out needs two points at least
            loo[kind] = None
            continue
        r = _loo_log_residuals(kind, x, y)
        residuals[kind] = r
        loo[kind] = float(100 * np.sqrt(np.mean(np.expm1(r) ** 2)))
    best = "scale"
    for kind in MODELS[1:]:
        ours, theirs = loo.get(kind), loo.get(best)
        if ours is not None and (theirs is None or ours < theirs * (1 - TIE) - 1e-9):
            best = kind
    r = residuals.get(best)
    width = float(np.quantile(np.abs(r), 0.9)) if r is not None else math.log(1.3)
    width *= 1 + 2 / len(y)  # few points: the residuals understate the spread
    params = tuple(float(v) for v in _fit(best, x, y))
    return Calibration(kind=best, params=params, n=len(y), loo_rmspe=loo, interval_log=width)
