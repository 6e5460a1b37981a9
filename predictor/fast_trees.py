"""A numpy evaluator of an XGBoost regression booster, for single predictions.

``Booster.inplace_predict`` costs a fixed set-up per call (not the trees), a large part of the
1 ms budget of one ``predict`` (benchmarks/predictor_speed.py). The trees of
a ``reg:squarederror`` booster are a few hundred shallow binary trees, so evaluating them as
padded numpy arrays — all trees at once, one step per depth level — takes tens of
microseconds for a handful of rows. Large batches still go to XGBoost.

The evaluator reads the booster's own JSON (``save_raw("json")``) and is checked against
``inplace_predict`` when built; any disagreement (another XGBoost model layout, categorical
splits, another objective) disables it, so it can never change a prediction.
"""

from __future__ import annotations

import json

import numpy as np
import xgboost as xgb

SMALL_BATCH = 64  # rows up to which numpy beats XGBoost's per-call cost


class TreeTable:
    """All trees of one booster as padded arrays (trees × nodes)."""

    def __init__(
        self,
        left: np.ndarray,
        right: np.ndarray,
        feature: np.ndarray,
        threshold: np.ndarray,
        default_left: np.ndarray,
        depth: int,
        base_score: float,
    ) -> None:
        self.left, self.right, self.feature = left, right, feature
        self.threshold, self.default_left = threshold, default_left
        self.depth, self.base_score = depth, base_score
        self._trees = np.arange(len(left))[None, :]

    @classmethod
    def from_booster(cls, booster: xgb.Booster, n_features: int) -> TreeTable | None:
        """The table of ``booster``, or None when it cannot be reproduced exactly."""
        try:
            learner = json.loads(bytes(booster.save_raw("json")))["learner"]
            if learner["objective"]["name"] != "reg:squarederror":
                return None
            model = learner["gradient_booster"]["model"]
            trees = model["trees"]
            if any(t["categories_nodes"] for t in trees) or not trees:
                return None
            if int(learner["learner_model_param"]["num_feature"]) != n_features:
                return None  # trees of another feature set (an older predictor)
            base = float(learner["learner_model_param"]["base_score"].strip("[]"))
            width = max(len(t["left_children"]) for t in trees)
            shape = (len(trees), width)
            left = np.zeros(shape, np.int32)
            right = np.zeros(shape, np.int32)
            feature = np.zeros(shape, np.int32)
            threshold = np.zeros(shape, np.float32)
            default_left = np.zeros(shape, bool)
            depth = 0
            for i, t in enumerate(trees):
                n = len(t["left_children"])
                lc, rc = np.array(t["left_children"]), np.array(t["right_children"])
                leaf = lc == -1
                nodes = np.arange(n)
                left[i, :n] = np.where(leaf, nodes, lc)  # a leaf points to itself
                right[i, :n] = np.where(leaf, nodes, rc)
                feature[i, :n] = np.where(leaf, 0, t["split_indices"])
                # a leaf's value sits in split_conditions; keep it there (read at the end)
                threshold[i, :n] = np.array(t["split_conditions"], np.float32)
                default_left[i, :n] = np.array(t["default_left"], bool)
                depth = max(depth, _depth(lc, rc))
            table = cls(left, right, feature, threshold, default_left, depth, base)
        except (KeyError, ValueError, TypeError):
            return None
        # probe rows around the split points, so that many branches are taken both ways
        rng = np.random.default_rng(0)
        probe = rng.normal(size=(32, n_features)).astype(np.float32)
        inner = left != np.arange(width)[None, :]
        for f in range(n_features):
            cuts = threshold[inner & (feature == f)]
            if cuts.size:
                probe[:, f] = rng.choice(cuts, 32) * (1 + rng.choice([-1e-3, 1e-3], 32))
        if not np.allclose(
            table.predict(probe), booster.inplace_predict(probe), rtol=1e-5, atol=1e-6
        ):
            return None
        return table

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Margins (predictions) of rows ``x``."""
        x = np.asarray(x, dtype=np.float32)
        rows = np.arange(len(x))[:, None]
        node = np.zeros((len(x), len(self.left)), np.int32)
        for _ in range(self.depth):
            value = x[rows, self.feature[self._trees, node]]
            go_left = np.where(
                np.isnan(value),
                self.default_left[self._trees, node],
                value < self.threshold[self._trees, node],
            )
            node = np.where(go_left, self.left[self._trees, node], self.right[self._trees, node])
        leaves = self.threshold[self._trees, node].astype(np.float64)
        return (self.base_score + leaves.sum(axis=1)).astype(np.float32)


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    depth, frontier = 0, [0]
    while True:
        children = [c for n in frontier for c in (left[n], right[n]) if c != -1]
        if not children:
            return depth
        depth += 1
        frontier = children
