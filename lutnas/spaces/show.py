"""A space described for a person (``lutnas space show``): its base network, its decisions in
token order with their choices, its size (token combinations and distinct networks), the
unique layers per resolution a LUT of it needs, and its named architectures."""

from __future__ import annotations

import math

from lutnas.spaces.base import Space
from lutnas.spaces.elastic import ElasticSpace
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.registry import source_of
from lutnas.spaces.space import SearchSpace


def describe(space: Space, resolutions: tuple[int, ...] | None = None) -> str:
    """The text ``lutnas space show`` prints; unique layers are counted at ``resolutions``
    (default: the space's)."""
    lines = [f"space {space.name} ({space.kind}), from {source_of(space.name)}"]
    lines += [f"  {line}" for line in _base_lines(space)]
    decisions = space.decisions()
    lines.append(f"decisions (tokens, in order): {len(decisions)}")
    for d in decisions:
        lines.append(f"  {d.name}: {', '.join(_label(c) for c in d.choices)}")
    combos = math.prod(space.choice_counts())
    lines.append(
        f"size: {_big(combos)} token combinations, {_big(distinct_networks(space))} distinct "
        "networks"
    )
    lines.append("unique layers (LUT rows) per resolution:")
    counted = resolutions or space.resolutions
    keys: set[str] = set()
    for r in counted:
        layers = space.unique_layers(r)
        keys.update(s.key for s in layers)
        lines.append(f"  {r}: {len(layers)}")
    if len(counted) > 1:
        lines.append(f"  all: {len(keys)} (a layer at several resolutions counts once)")
    if space.archs:
        lines.append("named architectures:")
        for named in space.archs:
            arch = get_named_arch(named.name)
            problems = arch.problems()
            grid = "on the grid" if not problems else "off the grid: " + "; ".join(problems)
            lines.append(f"  {named.name} ({arch.resolution}, {len(arch.layers())} layers, {grid})")
    return "\n".join(lines)


def _label(choice: object) -> str:
    label = getattr(choice, "label", None)
    return label if isinstance(label, str) else str(choice)


def _big(n: int) -> str:
    return f"{n:,}" if n < 10**9 else f"{n:.2e}"


def distinct_networks(space: Space) -> int:
    """How many different networks (different layer lists) the space holds."""
    if isinstance(space, ElasticSpace):
        total = 1
        for st in space.stages:
            per_layer = len(st.kernels) * len(st.expansions)
            depths = [n for n in range(1, st.slots + 1) if st.reachable(n)]
            total *= sum(per_layer**n for n in depths)
        return total * len(space.resolutions)
    assert isinstance(space, SearchSpace)
    # by the width entering each stage: an identity skip on a one-layer stage whose shape
    # changes is no skip, so it adds no network there
    counts = {space.stem_channels: 1}
    for i, st in enumerate(space.stages):
        ops = len(st.conv_ops) * len(st.kernels) * len(st.se_ratios)
        new: dict[int, int] = {}
        for cin, n in counts.items():
            for cout in space.width_choices(i):
                for layers in space.layer_choices(i):
                    same = layers > 1 or (cin == cout and st.stride == 1)
                    skips = {s if same or s != "idskip" else "noskip" for s in st.skips}
                    new[cout] = new.get(cout, 0) + n * ops * len(skips)
        counts = new
    return sum(counts.values()) * len(space.resolutions)


def _base_lines(space: Space) -> list[str]:
    if isinstance(space, ElasticSpace):
        out = [
            f"stem: {space.stem_kernel}x{space.stem_kernel} conv {space.stem_channels}, "
            f"stride {space.stem_stride}, {space.stem_act}"
        ]
        if space.first:
            f = space.first
            out.append(
                f"first block: {f.kernel}x{f.kernel} depthwise-separable {f.channels}, stride "
                f"{f.stride}, {f.act}{', SE' if f.se else ''}"
            )
        for i, st in enumerate(space.stages):
            zero = ", layers after the first may be zero" if st.zero else ""
            out.append(
                f"stage {i}: {st.channels} channels, stride {st.stride}, {st.act}"
                f"{', SE' if st.se else ''}; depth {_set(st.depths)}, kernel {_set(st.kernels)} "
                f"x expansion {_set(st.expansions)}{zero}"
            )
        hidden = f", linear {space.hidden_channels}" if space.hidden_channels else ""
        out.append(
            f"head: 1x1 conv {space.head_channels} ({space.head_act}), pool{hidden}, "
            f"classifier {space.num_classes}"
        )
        return out
    assert isinstance(space, SearchSpace)
    out = [
        f"stem: {space.stem_kernel}x{space.stem_kernel} conv {space.stem_channels}, stride "
        f"{space.stem_stride}; activation {space.act}"
    ]
    for i, st in enumerate(space.stages):
        out.append(
            f"stage {i}: stride {st.stride}; op {_set(op.label for op in st.conv_ops)}, kernel "
            f"{_set(st.kernels)}, SE {_set(st.se_ratios)}, skip {_set(st.skips)}, channels "
            f"{_set(space.width_choices(i))}, layers {_set(space.layer_choices(i))}"
        )
    out.append(f"head: 1x1 conv {space.head_channels}, pool, classifier {space.num_classes}")
    return out


def _set(values) -> str:
    return "{" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values) + "}"
