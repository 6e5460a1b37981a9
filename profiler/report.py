"""``lutnas lut show``: what a LUT holds, how much of a space it covers, its noisiest rows."""

from __future__ import annotations

import json

from lut.store import LutStore
from lut.transferred import transferred_lines
from lutnas.spaces.space import Space
from profiler.precision import identity_label
from profiler.quality import assess, quality_lines, row_noise


def coverage(store: LutStore, space: Space, resolutions: list[int]) -> dict[int, tuple[int, int]]:
    """Per resolution: (rows present, unique layers of the space)."""
    keys = store.layer_keys()
    out = {}
    for r in resolutions:
        wanted = {s.key for s in space.unique_layers(r)}
        out[r] = (len(wanted & keys), len(wanted))
    return out


def profiled_resolutions(layers, space: Space) -> list[int]:
    """The resolutions a LUT has rows for (by its stem rows' input size), or the space's
    largest (profile-device's default, 224) when it has none: never the space's other
    resolutions, which were never profiled."""
    stems = layers.loc[layers.op == "stem", "input_h"].unique()
    found = sorted(int(r) for r in stems)
    return found or [max(space.resolutions)]


def describe(store: LutStore, space: Space | None, noisiest: int = 10) -> str:
    meta = store.meta
    layers = store.layers_frame()
    lines = [
        f"LUT {store.path}",
        f"  backend: {json.dumps(meta['backend_config'], sort_keys=True)}",
        f"  precision: {identity_label(store.backend_config)}",
        f"  device: {json.dumps(meta['device'], sort_keys=True)}",
        f"  settings: {json.dumps(meta['settings'])}; lutnas {meta['tool_version']}, "
        f"created {meta['created_at']}",
        f"  layers: {len(layers)}; whole models: {len(store.model_keys())}",
        *transferred_lines(store),
    ]
    if len(layers):
        by_op = layers.groupby("op")["median_ms"].agg(["count", "median"])
        for op, row in by_op.iterrows():
            lines.append(f"    {op:<7} {int(row['count']):>6} rows, median {row['median']:.3f} ms")
        if space is not None:
            resolutions = profiled_resolutions(layers, space)
            for r, (have, total) in coverage(store, space, resolutions).items():
                lines.append(
                    f"  coverage of {space.name} @{r}: {have}/{total} ({100 * have / total:.1f}%)"
                )
        per_row = row_noise(layers)
        noisy = layers.assign(
            noise=[v for v, _ in per_row], basis=[b or "unknown" for _, b in per_row]
        )
        noisy = noisy.sort_values("noise", ascending=False, na_position="last").head(noisiest)
        mean_as_median = "median_is_mean" in noisy
        lines += [
            f"  noisiest {len(noisy)} rows, by the noise printed first (the CV its basis gives: "
            "p10-p90 or p5-p95 range, else std/mean),",
            "  then its basis, the median (* the runner's mean), xN measurements taken, the key:",
        ]
        for _, row in noisy.iterrows():
            star = "*" if mean_as_median and row.median_is_mean == 1 else " "
            lines.append(
                f"    {row.noise:6.3f} {row.basis:<8}  {row.median_ms:8.3f} ms{star} "
                f"x{row.attempts}  {row.key}"
            )
    lines += quality_lines(
        assess(layers, meta, store.models_frame()), str(store.path), meta["settings"].get("runs")
    )
    return "\n".join(lines)
