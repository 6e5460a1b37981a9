"""Moving a source LUT's rows into a target LUT: the plan of what to time
(:class:`TransferPlan`, from :func:`plan_transfer`) and, once the sample is measured, the map
fitted on every row measured on both and the rest of the table written as transferred rows
(:meth:`TransferPlan.apply`, :mod:`lut.transferred`).

A target LUT is transferred from one source: resuming it, or extending its sample, with another
source (another backend configuration, device or settings) is refused, since its sample was
chosen for that source's rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lut.spec import LayerSpec
from lut.store import LutStore, describe_diff
from lut.store_util import now
from lut.transferred import TransferredRow, transfer_meta, write_transferred
from lutnas.errors import LutnasError
from predictor.transfer.layer_map import LayerMap, map_features
from predictor.transfer.sample import sample_order


def source_identity(source: LutStore) -> dict:
    """What a target records of its source, and compares on resume."""
    return {
        "backend_config": source.backend_config,
        "device": source.device,
        "settings": source.settings,
    }


@dataclass(frozen=True, kw_only=True)
class TransferPlan:
    """What a transfer times and moves.

    Attributes:
        source_path: the source LUT.
        source: its identity (:func:`source_identity`).
        source_ms: the source's median of every key of ``table`` it has.
        table: the target's table (every layer wanted), distinct keys.
        sample: the layers to time on the target: the first ``asked`` of the table's order
            (:func:`predictor.transfer.sample.sample_order`).
        asked: the sample size asked for.
        seed: the order's tie-breaking seed.
        lacking: keys of the table the source has no row of (neither timed nor moved).
    """

    source_path: str
    source: dict
    source_ms: dict[str, float]
    table: list[LayerSpec]
    sample: list[LayerSpec]
    asked: int
    seed: int
    lacking: list[str] = field(default_factory=list)

    def check_target(self, target: LutStore) -> None:
        """Refuse a target transferred before from another source.

        Raises:
            LutnasError: naming the difference.
        """
        before = transfer_meta(target)
        if not before:
            return
        theirs = before.get("source", {})
        diff = describe_diff(
            {k: theirs.get(k) for k in self.source},
            self.source,
            "it was transferred from",
            f"{self.source_path} is",
        )
        if diff:
            raise LutnasError(
                f"{target.path} holds rows transferred from {theirs.get('path')}, another LUT "
                f"than {self.source_path} ({diff}); its sample was chosen for that source. "
                f"Transfer from the same source, or into another --out"
            )

    def apply(self, target: LutStore) -> TransferResult:
        """Fit the map on every key measured on the target and in the source, and write every
        other row of the table the source has as a transferred row (replacing the transferred
        rows the file had).

        Raises:
            LutnasError: no row is measured on both.
        """
        self.check_target(target)
        measured = target.latency_ms(self.source_ms)  # measured keys the source has
        pair_keys = sorted(measured)
        pair_specs = [LayerSpec.from_key(k) for k in pair_keys]
        movable = [s for s in self.table if s.key in self.source_ms and s.key not in measured]
        table_src = [self.source_ms[s.key] for s in self.table if s.key in self.source_ms]
        table_specs = [s for s in self.table if s.key in self.source_ms]
        layer_map = LayerMap.fit(
            pair_specs,
            [self.source_ms[k] for k in pair_keys],
            [measured[k] for k in pair_keys],
            standardise_on=map_features(table_specs, table_src) if table_specs else None,
        )
        src = [self.source_ms[s.key] for s in movable]
        moved = layer_map.move(movable, src)
        rows = [
            TransferredRow(
                spec=s,
                median_ms=float(moved.median_ms[i]),
                low_ms=float(moved.low_ms[i]),
                high_ms=float(moved.high_ms[i]),
                source_ms=float(src[i]),
                map_part=moved.parts[i],
            )
            for i, s in enumerate(movable)
        ]
        meta = {
            "source": {"path": self.source_path, **self.source},
            "sample": {
                "asked": self.asked,
                "seed": self.seed,
                "pairs": len(pair_keys),
                "table": len(self.table),
                "source_lacks": len(self.lacking),
            },
            "map": layer_map.to_dict(),
            "fitted_at": now(),
        }
        written = write_transferred(target, rows, meta)
        return TransferResult(pairs=len(pair_keys), transferred=written, layer_map=layer_map)


@dataclass(frozen=True)
class TransferResult:
    pairs: int  # rows measured on both, the map's data
    transferred: int  # rows written as transferred
    layer_map: LayerMap

    def lines(self) -> list[str]:
        """What a command prints about the map."""
        m = self.layer_map
        parts = ", ".join(
            f"{part} {100 * math.expm1(r):.1f}%" for part, r in sorted(m.loo_rmse.items()) if r == r
        )
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(m.pairs.items()))
        return [
            f"transfer map fitted on {self.pairs} layers measured on both devices ({kinds}); "
            f"shared factor {m.factor():.3f}",
            f"  leave-one-out error of a moved row (RMS, log scale as %): {parts or 'n/a'}",
            f"  {self.transferred} rows transferred (marked as such; measuring them replaces them)",
        ]


def plan_transfer(
    source_path: str | Path, table: Sequence[LayerSpec], asked: int, seed: int = 0
) -> TransferPlan:
    """Open the source LUT and choose the sample of ``table`` to time.

    Raises:
        LutnasError: the source is not a LUT, or has no row of the table.
    """
    with LutStore.open(source_path, writable=False) as source:
        identity = source_identity(source)
        table = list({s.key: s for s in table}.values())
        source_ms = source.latency_ms(s.key for s in table)
    if not source_ms:
        raise LutnasError(
            f"the source {source_path} has no row of the {len(table)} layers to profile (another "
            "space or resolution?); transfer from a LUT of the same space and resolutions"
        )
    known = [s for s in table if s.key in source_ms]
    lacking = [s.key for s in table if s.key not in source_ms]
    order = sample_order(known, [source_ms[s.key] for s in known], asked, seed)
    return TransferPlan(
        source_path=str(Path(source_path).resolve()),
        source=identity,
        source_ms=source_ms,
        table=table,
        sample=order,
        asked=asked,
        seed=seed,
        lacking=lacking,
    )
