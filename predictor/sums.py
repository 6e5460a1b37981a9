"""A network's LUT sums (:data:`~predictor.features.LAYER_COLUMNS`), fast for architectures.

Expanding an :class:`~lutnas.spaces.arch.Arch` into validated LayerSpecs costs ~0.2 ms, more than
the whole prediction, and a search visits the same blocks again and again. So the sums are cached
per *segment* — the stem, each stage's block (keyed by resolution, stage, input width and the
block's choice) and the head — and an architecture's row is the sum of its segments' rows,
one numpy gather for a whole batch. Rows missing from the LUT are estimated when an estimator
is given (and remembered as missing, for ``strict`` callers), otherwise left out of the sum
(callers refuse such sums). A batch's missing rows are estimated in one call per layer kind
before its new segments are summed (one call per segment made a batch at a resolution the LUT
lacks an order of magnitude slower; benchmarks/search_throughput.py), and estimates are kept.

An architecture never seen before usually brings one or two new segments among its nine, so
only those are expanded (the blocks' ``layer_specs``, the same pieces
:meth:`~lutnas.spaces.arch.Arch.layers` is made of; a block's layer specs are cached objects, each
making its key once). Segment keys are tuples of plain values (a block's ``segment_key``):
hashing and comparing a ``BlockChoice`` runs generated Python code, which was the cache
lookup's main cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lut.spec import LayerSpec
from lutnas.spaces.arch import Arch
from lutnas.spaces.space import Space, get_space
from predictor import features as F
from predictor.layer_estimator import LayerEstimator


class NetworkSums:
    """LUT rows (key → median ms), an optional estimator, and the per-segment cache.
    ``transferred``: keys of ``rows`` moved from another device's LUT, not measured (their
    share of a sum is kept apart, in ``tr_ms``)."""

    def __init__(
        self,
        rows: dict[str, float],
        estimator: LayerEstimator | None,
        transferred: frozenset[str] = frozenset(),
    ) -> None:
        self.rows = dict(rows)
        self.estimator = estimator
        self.transferred = frozenset(transferred)
        self.clear()

    def clear(self) -> None:
        """Forget the cache (after rows were added)."""
        self._segments: dict[tuple, int] = {}  # segment key -> row of _vectors
        self._vectors: list[np.ndarray] = [np.zeros(len(F.LAYER_COLUMNS))]  # row 0: padding
        self._missing: list[tuple[str, ...]] = [()]
        self._missing_ids: set[int] = set()  # segments with rows missing from the LUT
        self._matrix: np.ndarray | None = None
        self._rows: dict[tuple[str, int], np.ndarray] = {}  # (key, resolution) -> layer row
        self._estimates: dict[str, float] = {}  # key -> estimated ms, for rows the LUT lacks

    def add_rows(self, rows: dict[str, float]) -> None:
        """Add measured rows (a measurement replaces a transferred row of the same key)."""
        self.rows.update(rows)
        self.transferred = self.transferred - set(rows)
        self.clear()

    def of_specs(
        self, specs: Sequence[LayerSpec], resolution: int
    ) -> tuple[np.ndarray, tuple[str, ...]]:
        """Sum of the layers' rows (estimates included) and the keys missing from the LUT."""
        vec = np.zeros(len(F.LAYER_COLUMNS))
        keys = [s.key for s in specs]
        missing = [(k, s) for k, s in zip(keys, specs, strict=True) if k not in self.rows]
        self._estimate([s for _, s in missing])
        estimates = self._estimates
        for k, s in zip(keys, specs, strict=True):
            row = self._rows.get((k, resolution))
            if row is None:
                if k in self.rows:
                    row = F.layer_row(s, self.rows[k], False, resolution, k in self.transferred)
                elif k in estimates:
                    row = F.layer_row(s, float(estimates[k]), True, resolution)
                else:  # no estimator: the sum is incomplete; callers refuse it
                    vec[F.LAYER_COLUMNS.index("n_estimated")] += 1
                    continue
                self._rows[(k, resolution)] = row
            vec += row
        return vec, tuple(k for k, _ in missing)

    def of_networks(
        self, networks: Sequence[tuple[Sequence[LayerSpec], int]]
    ) -> tuple[np.ndarray, list[tuple[str, ...]]]:
        """:meth:`of_specs` of many networks (layers, input height): one row each, and each
        one's keys missing from the LUT (once each); the missing rows of all of them are
        estimated in one call."""
        self._estimate([s for specs, _ in networks for s in specs])
        vecs, missing = [], []
        for specs, resolution in networks:
            vec, keys = self.of_specs(specs, resolution)
            vecs.append(vec)
            missing.append(tuple(dict.fromkeys(keys)))
        return np.array(vecs).reshape(len(vecs), len(F.LAYER_COLUMNS)), missing

    def _estimate(self, specs: Sequence[LayerSpec]) -> None:
        """Estimate, in one call, the rows of ``specs`` neither in the LUT nor estimated yet."""
        if self.estimator is None:
            return
        new = {s.key: s for s in specs if s.key not in self.rows and s.key not in self._estimates}
        if new:
            self._estimates.update(
                zip(new, self.estimator.estimate_ms(list(new.values())).tolist(), strict=True)
            )

    def _segment_ids(self, archs: Sequence[Arch]) -> list[list[int]]:
        """Rows of ``_vectors`` for each architecture's segments (stem, one per block, head).
        Segments not seen before are expanded once, their missing rows estimated together."""
        get = self._segments.get
        id_lists, pending, new = [], [], {}  # pending: (position, keys) with a new segment
        for arch in archs:
            space = get_space(arch.space)
            keys = _segment_keys(arch, space)
            ids = [get(k, -1) for k in keys]
            if -1 in ids:
                for j, k in enumerate(keys):
                    if ids[j] == -1 and k not in new:
                        new[k] = (_segment_specs(arch, space, j), arch.resolution)
                pending.append((len(id_lists), keys))
            id_lists.append(ids)
        if new:
            self._estimate([s for specs, _ in new.values() for s in specs])
            for k, (specs, resolution) in new.items():
                self._add_segment(k, specs, resolution)
            for i, keys in pending:
                id_lists[i] = [self._segments[k] for k in keys]
        return id_lists

    def _add_segment(self, key: tuple, specs: list[LayerSpec], resolution: int) -> None:
        """Sum a new segment's layers into a new row of ``_vectors``."""
        vec, missing = self.of_specs(specs, resolution)
        index = self._segments[key] = len(self._vectors)
        self._vectors.append(vec)
        if missing:
            self._missing_ids.add(index)
        self._missing.append(missing)
        self._matrix = None

    def of_arch(self, arch: Arch) -> tuple[np.ndarray, tuple[str, ...]]:
        """Sum of one architecture's rows and its keys missing from the LUT."""
        (ids,) = self._segment_ids([arch])
        return (
            np.sum([self._vectors[i] for i in ids], axis=0),
            tuple(k for i in ids for k in self._missing[i]),
        )

    def of_archs(self, archs: Sequence[Arch]) -> tuple[np.ndarray, list[str], int]:
        """Sums of many architectures (one row each), the keys missing from the LUT, and how
        many architectures have a missing row."""
        id_lists = self._segment_ids(archs)
        width = max((len(ids) for ids in id_lists), default=0)
        ids = np.zeros((len(archs), width), dtype=np.int64)
        for row, lst in enumerate(id_lists):
            ids[row, : len(lst)] = lst
        if self._matrix is None or len(self._matrix) != len(self._vectors):
            self._matrix = np.array(self._vectors)
        keys: list[str] = []
        n_bad = 0
        if self._missing_ids:
            bad = np.isin(ids, list(self._missing_ids)).any(axis=1)
            n_bad = int(bad.sum())
            keys = list(
                dict.fromkeys(
                    k for row in np.flatnonzero(bad) for i in ids[row] for k in self._missing[i]
                )
            )
        return self._matrix[ids].sum(axis=1), keys, n_bad


def _segment_keys(arch: Arch, space: Space) -> list[tuple]:
    """Cache keys of the architecture's segments: stem, one per block, head."""
    resolution = arch.resolution
    keys: list[tuple] = [("stem", space.name, resolution)]
    cin = space.stem_out_channels
    for i, b in enumerate(arch.blocks):
        keys.append((space.name, resolution, i, cin, b.segment_key))
        cin = b.channels
    keys.append(("head", space.name, resolution, cin))
    return keys


def _segment_specs(arch: Arch, space: Space, segment: int) -> list[LayerSpec]:
    """The layers of one segment of ``arch``: 0 the stem, 1..n the blocks, n + 1 the head.

    Concatenated over the segments, these are ``arch.layers()``."""
    resolution, blocks = arch.resolution, arch.blocks
    if segment == 0:
        return space.stem_specs(resolution)
    if segment > len(blocks):
        return space.head_specs(blocks[-1].channels, space.final_hw(resolution))
    stage = segment - 1
    cin = blocks[stage - 1].channels if stage else space.stem_out_channels
    hw = space.stage_inputs(resolution)[stage]
    return blocks[stage].layer_specs(space, stage, cin, hw)
