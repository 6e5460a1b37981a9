"""``lutnas lut show``: what a LUT holds, how much of a space it covers, its noisiest rows."""

from __future__ import annotations

import json

from lut.store import LutStore
from spaces.space import SearchSpace


def coverage(
    store: LutStore, space: SearchSpace, resolutions: list[int]
) -> dict[int, tuple[int, int]]:
    """Per resolution: (rows present, unique layers of the space)."""
    keys = store.layer_keys()
    out = {}
    for r in resolutions:
        wanted = {s.key for s in space.unique_layers(r)}
        out[r] = (len(wanted & keys), len(wanted))
    return out


def describe(store: LutStore, space: SearchSpace | None, noisiest: int = 10) -> str:
    meta = store.meta
    layers = store.layers_frame()
    lines = [
        f"LUT {store.path}",
        f"  backend: {json.dumps(meta['backend_config'], sort_keys=True)}",
        f"  device: {json.dumps(meta['device'], sort_keys=True)}",
        f"  settings: {json.dumps(meta['settings'])}; lutnas {meta['tool_version']}, "
        f"created {meta['created_at']}",
        f"  layers: {len(layers)}; whole models: {len(store.model_keys())}",
    ]
    if len(layers):
        by_op = layers.groupby("op")["median_ms"].agg(["count", "median"])
        for op, row in by_op.iterrows():
            lines.append(f"    {op:<7} {int(row['count']):>6} rows, median {row['median']:.3f} ms")
        if space is not None:
            stems = layers.loc[layers.op == "stem", "input_h"].unique()
            resolutions = sorted({*space.resolutions, *(int(r) for r in stems)})
            for r, (have, total) in coverage(store, space, resolutions).items():
                if have:
                    lines.append(
                        f"  coverage of {space.name} @{r}: {have}/{total} "
                        f"({100 * have / total:.1f}%)"
                    )
        noisy = layers.sort_values("cv", ascending=False).head(noisiest)
        lines.append(f"  noisiest {len(noisy)} rows (CV = std/mean):")
        for _, row in noisy.iterrows():
            lines.append(f"    {row.cv:6.3f}  {row.median_ms:8.3f} ms  x{row.attempts}  {row.key}")
    drift = meta.get("drift_events", [])
    lines.append(f"  drift events (reference moved > 10%): {len(drift)}")
    for event in drift[:10]:
        lines.append(f"    after {event['rows_done']} rows: {event['ratio']:.2f}x")
    return "\n".join(lines)
