"""Transferred rows through the commands that copy a LUT's rows: ``lut merge`` carries them
(:func:`merge_transferred`: a measurement of the key, in any input or the output, wins over a
transferred row; of two transferred rows of one key, the one with the narrower interval) and
``lut export`` writes them beside the measurements, marked (:func:`exported_layers`).
``lut repair`` salvages them like measured rows (:mod:`lut.repair`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lut.schema import TRANSFERRED_COLUMNS
from lut.store import LutStore
from lut.transferred import (
    TransferredRow,
    checked_transferred,
    transfer_meta,
    transferred_frame,
    write_transferred,
)

if TYPE_CHECKING:
    import pandas as pd

TRANSFERRED_MARK = "transferred"  # the export column: True on a transferred row
_INTEGER_COLUMNS = ("n", "warmup", "attempts", "median_is_mean")  # kept whole beside NaN


def exported_layers(store: LutStore) -> pd.DataFrame:
    """The layer rows to export: the measurements and, when the file has any, its transferred
    rows after them in key order, with a ``transferred`` column (False/True) and the transferred
    rows' own columns (``low_ms``/``high_ms`` interval, ``source_ms``, ``map_part``,
    ``transferred_at``; empty on measured rows, as the measured statistics are on transferred
    ones)."""
    import pandas as pd

    layers, moved = store.layers_frame(), transferred_frame(store)
    if not len(moved):
        return layers
    columns = [*layers.columns, TRANSFERRED_MARK]
    columns += [c for c in TRANSFERRED_COLUMNS if c not in columns]
    parts = [
        frame.assign(**{TRANSFERRED_MARK: mark}).reindex(columns=columns).astype(object)
        for frame, mark in ((layers, False), (moved, True))
        if len(frame)
    ]
    frame = pd.concat(parts, ignore_index=True).infer_objects()
    whole = {c: "Int64" for c in _INTEGER_COLUMNS if c in frame.columns}
    frame = frame.astype({**whole, TRANSFERRED_MARK: bool})
    return frame.sort_values("key", kind="stable", ignore_index=True)


def _width(row: dict) -> float:
    return math.log(row["high_ms"] / row["low_ms"])


def merge_transferred(dst: LutStore, sources: list[LutStore]) -> dict[str, int]:
    """Carry the transferred rows of ``sources`` into ``dst`` beside its own, after the
    measurements were merged: a key measured in ``dst`` (now holding every input's
    measurements) keeps its measurement; of several transferred rows of one key the one with
    the narrowest interval is kept. ``dst``'s transfer metadata (or the first contributing
    input's) is kept, listing the inputs the rows came from under ``merged_from``.

    Returns counts: ``transferred`` (rows the merged file has), ``transferred_conflicts``
    (keys with transferred rows in several files).
    """
    best: dict[str, dict] = {}
    conflicts, contributed = 0, []
    for store in (dst, *sources):
        rows = checked_transferred(store)
        if rows and store is not dst:
            meta = transfer_meta(store) or {}
            source = meta.get("source", {}).get("path")
            contributed.append({"lut": str(store.path), "source": source, "rows": len(rows)})
        for row in rows:
            have = best.get(row["key"])
            if have is not None:
                conflicts += 1
                if _width(row) >= _width(have):
                    continue
            best[row["key"]] = row
    if not contributed:  # nothing new: dst's own rows stay as they are
        return {"transferred": len(checked_transferred(dst)), "transferred_conflicts": 0}
    meta = dict(transfer_meta(dst) or _first_meta(sources))
    meta["merged_from"] = [*meta.get("merged_from", []), *contributed]
    rows = [TransferredRow.from_stored(r) for r in best.values()]
    written = write_transferred(dst, rows, meta)
    return {"transferred": written, "transferred_conflicts": conflicts}


def _first_meta(sources: list[LutStore]) -> dict:
    for store in sources:
        meta = transfer_meta(store)
        if meta and checked_transferred(store):
            return meta
    return {}
