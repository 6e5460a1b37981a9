"""A space from its definition: the data of a space file (TOML) or of a definition a LUT or a
predictor stores (JSON), every field checked (:mod:`lutnas.spaces.fields`), defaults filled in,
the ``[choices]`` table spread over the stages, and the space built. The definition is data,
never executed: it can only name things from lutnas's vocabulary.

:func:`space_from_definition` is the one reader; ``Space.definition()`` writes the canonical
form back, and reading that gives an equal space. The format is described field by field in
``docs/spaces.md``.
"""

from __future__ import annotations

import dataclasses

from lutnas.errors import LutnasError
from lutnas.spaces import fields as F
from lutnas.spaces.base import FORMAT_VERSION, NamedArchDef, Space
from lutnas.spaces.elastic import ElasticSpace
from lutnas.spaces.elastic_table import ElasticStage, FirstBlock
from lutnas.spaces.space import SearchSpace, Stage

KINDS = ("factorized", "layerwise")
COMMON_KEYS = ("format_version", "name", "kind", "resolutions", "channel_divisor")
FACTORIZED_CHOICES = {
    "conv_ops": F.choices(F.conv_op),
    "kernels": F.choices(F.kernel),
    "se_ratios": F.choices(F.se_ratio),
    "skips": F.choices(F.skip),
    "width_multipliers": F.choices(F.multiplier),
    "layer_deltas": F.choices(F.delta),
}
LAYERWISE_CHOICES = {
    "depths": F.choices(F.whole(1, F.MAX_LAYERS)),
    "kernels": F.choices(F.kernel),
    "expansions": F.choices(F.whole(1, F.MAX_EXPANSION)),
    "zero": F.flag,
}
TOP_KEYS = {
    "factorized": (*COMMON_KEYS, "act", "stem", "head", "choices", "stages", "archs"),
    "layerwise": (*COMMON_KEYS, "stem", "first", "head", "choices", "stages", "archs"),
}


def space_from_definition(data: object) -> Space:
    """The space ``data`` defines.

    Raises:
        LutnasError: ``{where}: {what is wrong}; {what is allowed}`` for the first field that
            is missing, unknown, of the wrong type or inconsistent with the rest.
    """
    if not isinstance(data, dict):
        F.fail("the file", "must be a table of keys (name, kind, resolutions, stem, ...)")
    kind = data.get("kind")
    if kind not in KINDS:
        F.fail("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    top = F.Table(data, "", TOP_KEYS[kind], f"a {kind} space")
    version = top.get("format_version", F.whole(1, 1_000_000), FORMAT_VERSION)
    if version > FORMAT_VERSION:
        F.fail(
            "format_version",
            f"{version} is newer than this lutnas reads ({FORMAT_VERSION}); upgrade lutnas",
        )
    common = {
        "name": top.get("name", F.name),
        "resolutions": top.get("resolutions", F.choices(F.resolution)),
        "channel_divisor": top.get("channel_divisor", F.whole(1, 64), 8),
    }
    stages = top.get("stages", _stage_list)
    space = (_factorized if kind == "factorized" else _layerwise)(top, common, stages)
    archs = top.get("archs", lambda v, p: _named_archs(v, p, space), ())
    return _with_archs(space, archs)


def _stage_list(value: object, path: str) -> list:
    if not isinstance(value, list) or not value:
        F.fail(path, "must be a list of stage tables ([[stages]] in TOML), at least one")
    if len(value) > F.MAX_STAGES:
        F.fail(path, f"has {len(value)} stages; at most {F.MAX_STAGES}")
    return value


def _stage_choices(stage: F.Table, defaults: F.Table, readers: dict, optional: dict) -> dict:
    """Each choice set of a stage: its own, else the ``[choices]`` table's."""
    out = {}
    for key, read in readers.items():
        if stage.has(key):
            out[key] = stage.get(key, read)
        elif defaults.has(key):
            out[key] = defaults.get(key, read)
        elif key in optional:
            out[key] = optional[key]
        else:
            F.fail(
                stage.where(key),
                f"no {key}: give {key} = [...] in this stage or in the [choices] table",
            )
    return out


# --- the factorized kind (MnasNet) --------------------------------------------------------------
def _factorized(top: F.Table, common: dict, raw_stages: list) -> SearchSpace:
    divisor = common["channel_divisor"]
    stem = F.Table(top.get("stem", _any), "stem", ("channels", "kernel", "stride"), "the stem")
    head = F.Table(top.get("head", _any), "head", ("channels", "classes"), "the head")
    defaults = F.Table(top.get("choices", _any, {}), "choices", (*FACTORIZED_CHOICES,), "it")
    stages = []
    for i, raw in enumerate(raw_stages):
        t = F.Table(
            raw, f"stages[{i}]", ("channels", "layers", "stride", *FACTORIZED_CHOICES), "a stage"
        )
        stages.append(
            Stage(
                channels=t.get("channels", F.channels(divisor)),
                layers=t.get("layers", F.whole(1, F.MAX_LAYERS)),
                stride=t.get("stride", F.stride),
                **_stage_choices(t, defaults, FACTORIZED_CHOICES, {}),
            )
        )
    space = SearchSpace(
        **common,
        stages=tuple(stages),
        act=top.get("act", F.act),
        stem_channels=stem.get("channels", F.channels(divisor)),
        stem_kernel=stem.get("kernel", F.kernel, 3),
        stem_stride=stem.get("stride", F.stride, 2),
        head_channels=head.get("channels", F.channels(divisor)),
        num_classes=head.get("classes", F.whole(1, F.MAX_CLASSES), 1000),
    )
    _check_factorized(space)
    return space


def _check_factorized(space: SearchSpace) -> None:
    widths_in: tuple[int, ...] = (space.stem_channels,)
    for i, st in enumerate(space.stages):
        counts, widths = space.layer_choices(i), space.width_choices(i)
        if max(counts) > F.MAX_LAYERS:
            F.fail(
                f"stages[{i}].layer_deltas",
                f"gives {max(counts)} layers; a stage has at most {F.MAX_LAYERS}",
            )
        same_shape = st.stride == 1 and bool(set(widths_in) & set(widths))
        if "idskip" in st.skips and max(counts) == 1 and not same_shape:
            why = f"stride {st.stride}" if st.stride != 1 else f"{widths_in} -> {widths} channels"
            F.fail(
                f"stages[{i}].skips",
                f"idskip never applies here: the stage has one layer, whose input and output "
                f"shapes always differ ({why}), and an identity skip needs them equal. Drop "
                "idskip (poolskip works across a shape change), or allow a second layer "
                "(layer_deltas)",
            )
        widths_in = widths


# --- the layer-wise kind (Once-for-All, ProxylessNAS) -------------------------------------------
def _layerwise(top: F.Table, common: dict, raw_stages: list) -> ElasticSpace:
    divisor = common["channel_divisor"]
    stem = F.Table(
        top.get("stem", _any), "stem", ("channels", "kernel", "stride", "act"), "the stem"
    )
    head = F.Table(
        top.get("head", _any),
        "head",
        ("channels", "act", "hidden_channels", "classes"),
        "the head",
    )
    defaults = F.Table(top.get("choices", _any, {}), "choices", (*LAYERWISE_CHOICES,), "it")
    stages = []
    for i, raw in enumerate(raw_stages):
        t = F.Table(
            raw, f"stages[{i}]", ("channels", "stride", "act", "se", *LAYERWISE_CHOICES), "a stage"
        )
        stage = ElasticStage(
            channels=t.get("channels", F.channels(divisor)),
            stride=t.get("stride", F.stride),
            act=t.get("act", F.act),
            se=t.get("se", F.flag, False),
            **_stage_choices(t, defaults, LAYERWISE_CHOICES, {"zero": False}),
        )
        if stage.zero and stage.slots == 1:
            F.fail(
                f"stages[{i}].zero",
                "zero never applies here: only layers after a stage's first may be skipped, "
                f"and this stage's depths {list(stage.depths)} give it one layer. Set zero = "
                "false, or allow more layers (depths)",
            )
        stages.append(stage)
    first = top.get("first", lambda v, p: _first_block(v, p, divisor), None)
    return ElasticSpace(
        **common,
        stages=tuple(stages),
        stem_channels=stem.get("channels", F.channels(divisor)),
        stem_kernel=stem.get("kernel", F.kernel, 3),
        stem_stride=stem.get("stride", F.stride, 2),
        stem_act=stem.get("act", F.act),
        first=first,
        head_channels=head.get("channels", F.channels(divisor)),
        head_act=head.get("act", F.act),
        hidden_channels=head.get("hidden_channels", F.channels(divisor, allow_zero=True), 0),
        num_classes=head.get("classes", F.whole(1, F.MAX_CLASSES), 1000),
    )


def _first_block(value: object, path: str, divisor: int) -> FirstBlock:
    t = F.Table(value, path, ("channels", "kernel", "stride", "act", "se"), "the first block")
    return FirstBlock(
        channels=t.get("channels", F.channels(divisor)),
        kernel=t.get("kernel", F.kernel, 3),
        stride=t.get("stride", F.stride, 1),
        act=t.get("act", F.act),
        se=t.get("se", F.flag, False),
    )


# --- named architectures ------------------------------------------------------------------------
def _named_archs(value: object, path: str, space: Space) -> tuple[NamedArchDef, ...]:
    if not isinstance(value, dict):
        F.fail(path, "must be a table of named architectures ([archs.NAME] in TOML)")
    out = []
    for arch_name, raw in value.items():
        where = f"{path}.{arch_name}"
        F.name(arch_name, where)
        t = F.Table(raw, where, ("resolution", "blocks"), "a named architecture")
        labels = t.get("blocks", _labels)
        if len(labels) != len(space.stages):
            F.fail(
                t.where("blocks"),
                f"has {len(labels)} block labels; the space has {len(space.stages)} stages",
            )
        arch = NamedArchDef(arch_name, t.get("resolution", F.resolution), labels)
        _check_named(arch, space, t.where("blocks"))
        out.append(arch)
    return tuple(out)


def _labels(value: object, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        F.fail(path, f"must be a list of block labels (strings), one per stage, got {value!r}")
    return tuple(value)


def _check_named(arch: NamedArchDef, space: Space, path: str) -> None:
    """The named architecture is a network of ``space`` (on its grid or not)."""
    blocks = []
    for j, label in enumerate(arch.labels):
        try:
            blocks.append(space.block_from_label(label))
        except LutnasError as exc:
            F.fail(f"{path}[{j}]", str(exc))
    try:
        space.check_blocks(tuple(blocks))
        space.network_layers(arch.resolution, space.canonical_blocks(tuple(blocks)))
    except LutnasError as exc:
        F.fail(path, str(exc))


def _with_archs(space: Space, archs: tuple[NamedArchDef, ...]) -> Space:
    return dataclasses.replace(space, archs=archs)


def _any(value: object, path: str) -> object:
    return value
