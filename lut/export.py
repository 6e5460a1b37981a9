"""Export a LUT to CSV or Parquet, metadata included (a sidecar JSON for CSV, schema
metadata for Parquet), and merge LUTs of the same backend configuration. Both take transferred
rows along (:mod:`lut.transferred_copy`): marked in the export, never over a measurement in a
merge."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lut.measurement import Measurement
from lut.schema import SPACES_META_KEY
from lut.spec import LayerSpec
from lut.store import LutStore, describe_diff
from lut.transferred_copy import exported_layers, merge_transferred
from lutnas.errors import LutnasError
from lutnas.jsondiff import describe_difference

if TYPE_CHECKING:  # pandas loads where a frame is read (lutnas --help stays fast)
    import pandas as pd


def export_csv(store: LutStore, out: str | Path) -> list[Path]:
    """Write ``out`` (layers, transferred ones marked: :func:`exported_layers`),
    ``<out>.models.csv`` (whole models) and ``<out>.meta.json``."""
    out = Path(out)
    exported_layers(store).to_csv(out, index=False)
    written = [out]
    models = store.models_frame()
    if len(models):
        written.append(out.with_suffix(".models.csv"))
        models.to_csv(written[-1], index=False)
    written.append(out.with_suffix(".meta.json"))
    written[-1].write_text(json.dumps(store.meta, indent=1, sort_keys=True))
    return written


def export_parquet(store: LutStore, out: str | Path) -> list[Path]:
    """Write ``out`` (layers, transferred ones marked: :func:`exported_layers`) and
    ``<out>.models.parquet``; LUT metadata in the file schema."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise LutnasError("Parquet export needs pyarrow: pip install pyarrow") from None
    out = Path(out)
    meta = {b"lutnas": json.dumps(store.meta, sort_keys=True).encode()}
    written = []
    for frame, path in [
        (exported_layers(store), out),
        (store.models_frame(), out.with_suffix(".models.parquet")),
    ]:
        if path != out and not len(frame):
            continue
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(
            table.replace_schema_metadata({**(table.schema.metadata or {}), **meta}), path
        )
        written.append(path)
    return written


@dataclass(frozen=True)
class StoredArch:
    """An architecture as a ``models`` row holds it: enough for :meth:`LutStore.put_model` to copy
    the row (its key, JSON, space and resolution) without decoding it."""

    key: str
    arch_json: str
    space: str
    resolution: int

    def to_json(self) -> str:
        return self.arch_json


def _row_measurement(row: pd.Series, scale: float = 1.0) -> Measurement:
    """A stored row as a Measurement, times ``scale`` (see :func:`_scale`)."""

    import pandas as pd

    def opt(v):
        return None if v is None or pd.isna(v) else float(v)

    m = Measurement(
        median_ms=float(row.median_ms),
        mean_ms=float(row.mean_ms),
        std_ms=opt(row.std_ms),
        p10_ms=opt(row.p10_ms),
        p90_ms=opt(row.p90_ms),
        n=int(row.n),
        warmup=int(row.warmup),
        reference_ms=opt(row.get("reference_ms")),
        drift_factor=opt(row.get("drift_factor")) or 1.0,
        p5_ms=opt(row.get("p5_ms")),
        p95_ms=opt(row.get("p95_ms")),
        median_is_mean=bool(opt(row.get("median_is_mean"))),
        note=row.get("note") if isinstance(row.get("note"), str) else None,
    )
    return m if scale == 1.0 else m.scaled(scale)


def _scale(dst: LutStore, src: LutStore) -> float:
    """The factor bringing ``src``'s drift-corrected whole models to ``dst``'s calibration;
    ``dst`` adopts ``src``'s calibration when it has none yet."""
    ours, theirs = dst.meta.get("drift_reference"), src.meta.get("drift_reference")
    if not theirs:
        return 1.0
    if not ours:
        dst.set_meta("drift_reference", theirs)
        return 1.0
    if ours["key"] != theirs["key"]:
        raise LutnasError(
            f"{src.path} was drift-corrected against another reference model ({theirs['key']}) "
            f"than {dst.path} ({ours['key']}); their whole models cannot be put on one scale"
        )
    return ours["nominal_ms"] / theirs["nominal_ms"]


# ONNX exporters whose files are one graph, node for node (lutnas's writer is checked against
# the TorchScript exporter in tests/test_onnx_writer.py): LUTs of either measured the same thing.
# profiler.export names its exporters by these (tests/test_onnx_exporter_choice.py checks).
SAME_GRAPH_EXPORTERS = frozenset({"lutnas-onnx", "torchscript"})


def _numbers_config(store: LutStore) -> dict:
    """What decides a LUT's numbers: its backend configuration and settings, less which of
    :data:`SAME_GRAPH_EXPORTERS` wrote its files (and that writer's version)."""
    config = {**store.backend_config, **store.settings}
    if config.get("exporter") in SAME_GRAPH_EXPORTERS:
        config["exporter"] = " or ".join(sorted(SAME_GRAPH_EXPORTERS))
        config.pop("onnx_writer_version", None)
    return config


def _checked_inputs(out: str | Path, sources: list[LutStore]) -> tuple[tuple, set, dict]:
    """The identity (backend configuration, device, settings) the merged file is opened with,
    the ONNX exporters involved, and the inputs' spaces; refuses, before anything is written,
    inputs (and an existing ``out``) whose numbers were measured differently."""
    stores = list(sources)
    if Path(out).exists():  # extended: its configuration stands
        stores.insert(0, LutStore.open(out, writable=False))
    try:
        first = stores[0]
        for s in stores[1:]:
            diff = describe_diff(
                _numbers_config(first), _numbers_config(s), f"{first.path.name} has", s.path.name
            )
            if diff:
                raise LutnasError(
                    f"{s.path} and {first.path} were measured with different backend "
                    f"configurations or settings ({diff}); merging them would mix numbers"
                )
        exporters = {s.backend_config.get("exporter") for s in stores}
        spaces = _merged_spaces(sources, {})
        return (first.backend_config, first.device, first.settings), exporters, spaces
    finally:
        if len(stores) > len(sources):
            stores[0].close()  # out is opened for writing next


def merge(out: str | Path, inputs: list[str | Path]) -> dict:
    """Merge LUT files measured with one backend configuration and settings into ``out``
    (created, or extended when it exists with the same configuration). Where a key is in
    several files, the steadiest row (lowest robust CV) wins. Drift-corrected whole models are
    brought to the calibration of ``out`` (or of the first input that has one). Transferred
    rows are carried where no file measured their key (:func:`merge_transferred`). LUTs whose
    ONNX files differ only in the exporter that wrote the same graph merge: the merged file
    keeps the configuration of ``out``, or else of the first input, and lists the exporters
    under ``merged_onnx_exporters``.

    Returns counts: rows added, conflicts resolved, models added, transferred rows the merged
    file has and keys transferred in several files.

    Raises:
        LutnasError: an input is not a LUT or has another configuration.
    """
    if not inputs:
        raise LutnasError("give at least one LUT file to merge")
    sources = [LutStore.open(p, writable=False) for p in inputs]
    try:
        identity, exporters, spaces = _checked_inputs(out, sources)
        counts = {"layers": 0, "conflicts": 0, "models": 0}
        with LutStore.create_or_resume(out, *identity) as dst:
            if len(exporters) > 1:
                merged = set(dst.meta.get("merged_onnx_exporters", [])) | exporters
                dst.set_meta("merged_onnx_exporters", sorted(merged))
            _merged_spaces([dst], spaces, dst)
            existing = dst.layers_frame().set_index("key")
            best: dict[str, pd.Series] = {k: r for k, r in existing.iterrows()}
            changed: set[str] = set()
            for s in sources:
                for key, row in s.layers_frame().set_index("key").iterrows():
                    if key in best:
                        counts["conflicts"] += 1
                        steadier = _row_measurement(best[key]).robust_cv
                        if _row_measurement(row).robust_cv >= steadier:
                            continue
                    best[key] = row
                    changed.add(key)
            for key in sorted(changed):
                row = best[key]
                dst.put_layer(LayerSpec.from_key(key), _row_measurement(row), int(row.attempts))
            counts["layers"] = len(changed)
            have = dst.model_keys()
            for s in sources:
                scale = _scale(dst, s)
                for _, row in s.models_frame().iterrows():
                    if row.arch_key not in have:
                        dst.put_model(
                            StoredArch(row.arch_key, row.arch_json, row.space, int(row.resolution)),
                            _row_measurement(row, scale),
                            int(row.attempts),
                            row["name"],
                        )
                        have.add(row.arch_key)
                        counts["models"] += 1
            counts.update(merge_transferred(dst, sources))
        return counts
    finally:
        for s in sources:
            s.close()


def _merged_spaces(stores: list[LutStore], merged: dict, dst: LutStore | None = None) -> dict:
    """The search-space definitions of ``stores`` added to ``merged`` (name -> (definition,
    file)); with ``dst``, the union is stored there. Two definitions under one name are
    refused, naming the first field that differs (named architectures aside)."""
    merged = dict(merged)
    for store in stores:
        for name, definition in (store.meta.get(SPACES_META_KEY) or {}).items():
            if name not in merged:
                merged[name] = (definition, store.path)
                continue
            have, where = merged[name]
            diff = describe_difference(
                {k: v for k, v in have.items() if k != "archs"},
                {k: v for k, v in definition.items() if k != "archs"},
                f"{where} has",
                str(store.path),
            )
            if diff:
                raise LutnasError(
                    f"{store.path} and {where} hold measurements of two different spaces named "
                    f"{name!r} ({diff}); merging would mix them under one name. Merge LUTs of "
                    "one definition, or profile the changed space under a new name"
                )
    if dst is not None:
        union = {name: d for name, (d, _) in sorted(merged.items())}
        if union != (dst.meta.get(SPACES_META_KEY) or {}):
            dst.set_meta(SPACES_META_KEY, union)
    return merged
