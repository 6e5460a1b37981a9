"""Which layers of a target's table to time so that a source LUT's rows can be moved to it:
a ranked order whose every prefix is a good sample.

What carries over between devices is the ranking of layers within one op kind; what must be
measured is each kind's scale and how it bends with size (DESIGN.md, "Moving a LUT to a new
device"). So the sample must hold every kind of layer the table has, and within a kind span its
variants and the source's latency range. :func:`sample_order` ranks the table greedily:

1. the rows of *rare kinds* (at most :data:`RARE_KIND_ROWS` rows: the stem, the head, the
   classifier) first: every network has them, so each is worth timing;
2. then, one pick at a time, the row that adds most *novelty*: for each grouping in
   :data:`GROUPINGS` (op kind × kernel, × expansion, × SE, × activation, × stride, × skip,
   × input size, and their full combination), ``1 / (1 + rows already picked in its group)``,
   plus how far (in log source latency) it lies from the rows already picked of its kind and of
   its full combination, as a share of that kind's range. Early picks cover every level of every
   factor; once they are covered, picks spread over the source's latency range within each
   combination.

The order depends only on the table, the source's rows and the seed (which breaks ties), never
on what the target already holds: ``--sample 600`` after ``--sample 400`` times the first 600,
of which the first 400 are measured already, and an interrupted run resumes into the same set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lut.spec import LayerSpec

RARE_KIND_ROWS = 8  # a kind with at most this many rows is timed whole, first
GROUPINGS: tuple[tuple[str, ...], ...] = (
    ("op",),
    ("op", "kernel"),
    ("op", "expansion"),
    ("op", "se_ratio"),
    ("op", "act"),
    ("op", "stride"),
    ("op", "skip"),
    ("op", "input_h"),
    ("op", "kernel", "expansion", "se_ratio", "act", "stride", "skip"),
    ("op", "kernel", "expansion", "se_ratio", "act", "stride", "skip", "input_h"),
)
_FULL = GROUPINGS[-2]  # the combination within which picks also spread in latency


def _group_ids(specs: Sequence[LayerSpec], fields: tuple[str, ...]) -> np.ndarray:
    ids: dict[tuple, int] = {}
    return np.array([ids.setdefault(tuple(getattr(s, f) for f in fields), len(ids)) for s in specs])


def sample_order(
    specs: Sequence[LayerSpec], source_ms: Sequence[float], limit: int | None = None, seed: int = 0
) -> list[LayerSpec]:
    """The first ``limit`` (default: all) of ``specs`` in the order to time them.

    Args:
        specs: the target's table (distinct keys) that the source has rows of.
        source_ms: the source's median of each spec.
        limit: how many to rank (the greedy's first ``limit`` picks are the same whatever
            ``limit`` is).
        seed: breaks ties between equally novel rows.
    """
    specs = list(specs)
    n = len(specs)
    limit = n if limit is None else max(0, min(limit, n))
    if not limit:
        return []
    log_ms = np.log(np.asarray(source_ms, dtype=float))
    jitter = np.random.default_rng(seed).random(n) * 1e-6
    chosen = np.zeros(n, dtype=bool)
    order: list[int] = []

    ops = _group_ids(specs, ("op",))
    kind_rows = np.bincount(ops)
    for i in np.flatnonzero(kind_rows[ops] <= RARE_KIND_ROWS):  # rare kinds, whole
        if len(order) < limit:
            order.append(int(i))
            chosen[i] = True

    groups = [_group_ids(specs, g) for g in GROUPINGS]
    counts = [np.bincount(g[chosen], minlength=g.max() + 1).astype(float) for g in groups]
    full = _group_ids(specs, _FULL)
    spread_groups = (ops, full)
    spans = []  # per spread grouping: each row's group's log-latency range
    for g in spread_groups:
        lo = np.full(g.max() + 1, np.inf)
        hi = np.full(g.max() + 1, -np.inf)
        np.minimum.at(lo, g, log_ms)
        np.maximum.at(hi, g, log_ms)
        spans.append(np.maximum(hi - lo, 1e-9)[g])
    nearest = [np.full(n, np.inf) for _ in spread_groups]  # to a picked row of the same group
    for picked in order:
        _update_nearest(nearest, spread_groups, log_ms, picked)

    while len(order) < limit:
        score = jitter.copy()
        for g, c in zip(groups, counts, strict=True):
            score += 1.0 / (1.0 + c[g])
        for near, span in zip(nearest, spans, strict=True):
            score += np.minimum(near / span, 1.0)
        score[chosen] = -np.inf
        i = int(np.argmax(score))
        order.append(i)
        chosen[i] = True
        for g, c in zip(groups, counts, strict=True):
            c[g[i]] += 1
        _update_nearest(nearest, spread_groups, log_ms, i)
    return [specs[i] for i in order]


def _update_nearest(nearest, spread_groups, log_ms: np.ndarray, picked: int) -> None:
    for near, g in zip(nearest, spread_groups, strict=True):
        same = g == g[picked]
        near[same] = np.minimum(near[same], np.abs(log_ms[same] - log_ms[picked]))


def random_sample(specs: Sequence[LayerSpec], k: int, seed: int = 0) -> list[LayerSpec]:
    """``k`` of ``specs`` drawn uniformly at random (the baseline the order is compared with)."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(specs), size=min(k, len(specs)), replace=False)
    return [specs[i] for i in sorted(idx)]
