"""Estimates of LUT rows that were never measured: one regressor per op kind on shape features.

nn-Meter's idea: a layer's latency is a smooth function of its shape within one kind of op, so a
regressor per kind, fitted on the LUT itself, fills rows no device has timed. The estimate is
marked as such wherever it is used (a prediction reports how much of it rests on estimates);
it never replaces a measurement. Kinds with fewer than :data:`MIN_ROWS` rows share one pooled
model that sees the op kind as a feature; a LUT too small for even that cannot estimate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import xgboost as xgb

from lut.spec import ACTS, ALL_OPS, LayerSpec
from lutnas.errors import LutnasError
from predictor.features import layer_cost

MIN_ROWS = 30  # rows needed for a kind of its own
POOLED = "pooled"
PARAMS = {
    "objective": "reg:squarederror",
    "eta": 0.05,
    "max_depth": 6,
    "subsample": 0.8,
    "colsample_bytree": 0.9,
    "min_child_weight": 1,
    "nthread": 1,
    "seed": 0,
}
ROUNDS = 600

SHAPE_FEATURES: tuple[str, ...] = (
    "log_macs",
    "log_params",
    "log_act",
    "kernel",
    "stride",
    "expansion",
    "mid_over_cin",
    "se_ratio",
    "log_se_squeeze",
    "gate_hard",
    "se_act_relu",
    "idskip",
    "poolskip",
    "convskip",
    "post_act",
    *(f"act_{a}" for a in ACTS),
    "log_cin",
    "log_cout",
    "log_input_h",
    "log_output_h",
    "log_groups",
    "padding",
    "parts",
    "bias_no_bn",
    *(f"op_{op}" for op in ALL_OPS),
)


def shape_features(specs: Sequence[LayerSpec]) -> np.ndarray:
    """One row of :data:`SHAPE_FEATURES` per spec."""
    rows = []
    for s in specs:
        macs, params, acts = layer_cost(s)
        rows.append(
            [
                np.log(macs + 1e-6),
                np.log(params + 1e-6),
                np.log(acts + 1e-6),
                s.kernel,
                s.stride,
                s.expansion,
                s.mid_channels / s.cin,
                s.se_ratio,
                np.log1p(s.se_squeeze_channels),
                float(s.se_ratio > 0 and s.se_gate_kind == "hsigmoid"),
                float(s.se_ratio > 0 and s.se_act == "relu"),
                float(s.skip == "idskip"),
                float(s.skip == "poolskip"),
                float(s.skip == "convskip"),
                float(bool(s.post)),
                *(float(s.act == a) for a in ACTS),
                np.log(s.cin),
                np.log(s.cout),
                np.log(s.input_h),
                np.log(s.output_hw[0]),
                np.log(s.group_count),
                s.padding,
                len(s.parts),
                float(not s.bn),
                *(float(s.op == op) for op in ALL_OPS),
            ]
        )
    return np.asarray(rows, dtype=float).reshape(len(rows), len(SHAPE_FEATURES))


class LayerEstimator:
    """Per-op-kind XGBoost regressors of ``log(latency_ms)`` on :data:`SHAPE_FEATURES`."""

    def __init__(self, boosters: dict[str, xgb.Booster], rows_per_kind: dict[str, int]) -> None:
        self.boosters = boosters
        self.rows_per_kind = rows_per_kind

    @classmethod
    def fit(cls, specs: Sequence[LayerSpec], latency_ms: Sequence[float]) -> LayerEstimator:
        """Fit on measured rows (``LutStore.layers_frame()`` keys and medians).

        Raises:
            LutnasError: fewer than :data:`MIN_ROWS` rows in all.
        """
        y = np.log(np.asarray(latency_ms, dtype=float))
        if len(specs) < MIN_ROWS:
            raise LutnasError(
                f"the LUT has {len(specs)} rows; estimating missing rows needs at "
                f"least {MIN_ROWS} (profile more layers with profile-device)"
            )
        x = shape_features(specs)
        kinds = np.array([s.op for s in specs])
        boosters, counts = {}, {}
        for kind in sorted(set(kinds)):
            mask = kinds == kind
            counts[kind] = int(mask.sum())
            if mask.sum() >= MIN_ROWS:
                boosters[kind] = xgb.train(PARAMS, xgb.DMatrix(x[mask], y[mask]), ROUNDS)
        boosters[POOLED] = xgb.train(PARAMS, xgb.DMatrix(x, y), ROUNDS)
        return cls(boosters, counts)

    def estimate_ms(self, specs: Sequence[LayerSpec]) -> np.ndarray:
        """Estimated median latency of each spec in ms."""
        if not specs:
            return np.zeros(0)
        x = shape_features(specs)
        out = np.empty(len(specs))
        kinds = np.array([s.op if s.op in self.boosters else POOLED for s in specs])
        for kind in set(kinds):
            mask = kinds == kind
            out[mask] = self.boosters[kind].inplace_predict(x[mask])
        return np.exp(out)

    def kind_of(self, spec: LayerSpec) -> str:
        """Which regressor estimates ``spec`` (its op kind, or the pooled one)."""
        return spec.op if spec.op in self.boosters else POOLED

    # --- persistence (see predictor.persistence) -------------------------------------------
    def to_raw(self) -> tuple[dict, dict[str, bytes]]:
        meta = {
            "features": list(SHAPE_FEATURES),
            "rows_per_kind": self.rows_per_kind,
            "kinds": sorted(self.boosters),
            "params": PARAMS,
            "rounds": ROUNDS,
        }
        return meta, {k: bytes(b.save_raw("ubj")) for k, b in self.boosters.items()}

    @classmethod
    def from_raw(cls, meta: dict, raw: dict[str, bytes]) -> LayerEstimator:
        if meta.get("features") != list(SHAPE_FEATURES):
            raise LutnasError(
                "the predictor's layer estimator was saved with other shape "
                "features (another lutnas version); refit it with lutnas fit"
            )
        boosters = {}
        for kind in meta["kinds"]:
            booster = xgb.Booster()
            booster.load_model(bytearray(raw[kind]))
            boosters[kind] = booster
        return cls(boosters, {k: int(v) for k, v in meta["rows_per_kind"].items()})

    def describe(self) -> str:
        return json.dumps(self.rows_per_kind, sort_keys=True)
