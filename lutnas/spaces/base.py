"""What every kind of search space has: the resolution limits, decisions (token positions) and the
:class:`Space` interface that :class:`~lutnas.spaces.arch.Arch`, the profiler, the predictor and
the search use. The kinds: :class:`~lutnas.spaces.space.SearchSpace` (MnasNet's factorized
kind, ``kind = "factorized"``) and :class:`~lutnas.spaces.elastic.ElasticSpace` (the layer-wise
kind of Once-for-All's MobileNetV3 and ProxylessNAS's spaces, ``kind = "layerwise"``). Every
space is data: a space file (:mod:`lutnas.spaces.spacefile`) or the definition a LUT stores
(:meth:`Space.definition`) gives one."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

from lut.spec import LayerSpec
from lutnas.errors import LutnasError

MIN_RESOLUTION = 32
MAX_RESOLUTION = 2048  # input height = width in pixels; far above any mobile network


FORMAT_VERSION = 1  # of space files and stored definitions


def round_channels(x: float, divisor: int = 8) -> int:
    """Nearest multiple of ``divisor`` (halves round up), at least ``divisor``."""
    return max(divisor, int(x / divisor + 0.5) * divisor)


def make_divisible(x: float, divisor: int = 8) -> int:
    """MobileNet's channel rounding: the nearest multiple of ``divisor`` (at least ``divisor``),
    one step up when rounding lost more than 10 % of ``x``."""
    out = max(divisor, int(x + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * x else out


@dataclass(frozen=True)
class NamedArchDef:
    """A named architecture as a space file gives it: a resolution and one block label per
    stage (:func:`lutnas.spaces.named.get_named_arch` builds the ``Arch``)."""

    name: str
    resolution: int
    labels: tuple[str, ...]


def archs_definition(archs: tuple[NamedArchDef, ...]) -> dict:
    """The ``archs`` table of a definition: name -> resolution and block labels."""
    return {a.name: {"resolution": a.resolution, "blocks": list(a.labels)} for a in archs}


@dataclass(frozen=True)
class Decision:
    """One token position: a name (``b3.kernel``) and the values it may take."""

    name: str
    choices: tuple


class Space:
    """What every kind of space gives :class:`~lutnas.spaces.arch.Arch`, the profiler, the predictor
    and the search. An architecture is a resolution and one block per stage; the block's type
    is the space's (:class:`~lutnas.spaces.blocks.BlockChoice` here, a
    :class:`~lutnas.spaces.elastic_blocks.StageChoice` in the MobileNetV3 space).

    Subclasses are frozen dataclasses with ``name``, ``stages``, ``resolutions`` and ``archs``
    (the named architectures of its file), and implement the methods below that raise
    ``NotImplementedError``.
    """

    kind: ClassVar[str]
    name: str
    stages: tuple
    resolutions: tuple[int, ...]
    archs: tuple[NamedArchDef, ...]

    @property
    def stem_out_channels(self) -> int:
        """The channels the first stage takes (what the stem segment hands on)."""
        raise NotImplementedError

    def definition(self) -> dict:
        """The space as plain data (JSON and TOML types), every choice set written out per
        stage: what a LUT and a predictor store, and what :func:`~lutnas.spaces.spacefile.
        space_from_definition` reads back into an equal space."""
        raise NotImplementedError

    def decisions(self) -> list[Decision]:
        raise NotImplementedError

    def choice_counts(self) -> list[int]:
        return [len(d.choices) for d in self.decisions()]

    def check_resolution(self, resolution: int) -> int:
        ok = isinstance(resolution, int) and not isinstance(resolution, bool)
        if not ok or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION or resolution % 8:
            raise LutnasError(
                f"resolution {resolution!r} is not usable: give a multiple of 8 from "
                f"{MIN_RESOLUTION} to {MAX_RESOLUTION} "
                f"(this space searches {', '.join(map(str, self.resolutions))})"
            )
        return resolution

    # --- geometry: the stem segment, the stages' input sizes, the head ---------------------
    def stem_specs(self, resolution: int) -> list[LayerSpec]:
        raise NotImplementedError

    def stem_strides(self) -> tuple[int, ...]:
        """Strides of the stem segment's layers (what comes before the first stage)."""
        raise NotImplementedError

    def stage_inputs(self, resolution: int) -> list[int]:
        """Input height (= width) of each stage at ``resolution`` (same padding: ceil)."""
        hw = resolution
        for stride in self.stem_strides():
            hw = (hw - 1) // stride + 1
        sizes = []
        for stage in self.stages:
            sizes.append(hw)
            hw = (hw - 1) // stage.stride + 1
        return sizes

    def final_hw(self, resolution: int) -> int:
        """Spatial size entering the head."""
        hw = self.stage_inputs(resolution)[-1]
        return (hw - 1) // self.stages[-1].stride + 1

    def head_specs(self, cin: int, hw: int, num_classes: int | None = None) -> list[LayerSpec]:
        raise NotImplementedError

    def unique_layers(self, resolution: int) -> list[LayerSpec]:
        raise NotImplementedError

    def network_layers(
        self, resolution: int, blocks: tuple, num_classes: int | None = None
    ) -> list[LayerSpec]:
        """The network of ``blocks`` at ``resolution`` as LUT layers: stem segment, every layer
        of every stage, head, classifier (see :meth:`lutnas.spaces.arch.Arch.layers`)."""
        specs = self.stem_specs(resolution)
        cin = self.stem_out_channels
        for i, (b, hw) in enumerate(zip(blocks, self.stage_inputs(resolution), strict=True)):
            specs += b.layer_specs(self, i, cin, hw)
            cin = b.channels
        return specs + self.head_specs(cin, self.final_hw(resolution), num_classes)

    # --- blocks: validation, JSON, labels, tokens ------------------------------------------
    def check_blocks(self, blocks: tuple) -> None:
        """Raise :class:`LutnasError` unless ``blocks`` has one block of this space per stage."""
        if len(blocks) != len(self.stages):
            raise LutnasError(
                f"space {self.name!r} has {len(self.stages)} stages, "
                f"the architecture gives {len(blocks)}"
            )

    def canonical_blocks(self, blocks: tuple) -> tuple:
        """``blocks`` in the one form this space writes each network in (so one network has
        one key); the default form is the given one."""
        return blocks

    def block_from_record(self, data: object, name: str):
        """The block of a JSON record, every field checked; ``name`` prefixes messages."""
        raise NotImplementedError

    def block_from_label(self, label: str):
        raise NotImplementedError

    def block_problems(self, stage: int, block) -> list[str]:
        """Values of ``block`` outside the choices of ``stage`` (empty: on the grid)."""
        raise NotImplementedError

    def token_values(self, resolution: int, blocks: tuple) -> list:
        """One value per decision, in :meth:`decisions` order (the arch is on the grid)."""
        raise NotImplementedError

    def blocks_from_values(self, values: list) -> tuple:
        """The blocks of one value per decision (``values[0]`` is the resolution)."""
        raise NotImplementedError


@functools.lru_cache(maxsize=1 << 16)
def square_layer(
    *, hw: int, skip: str = "noskip", expansion: int = 1, se_ratio: float = 0.0, **fields: object
) -> LayerSpec:
    """A square-input (``hw`` × ``hw``) LayerSpec (no skip, expansion 1, no SE unless given),
    validated once per distinct set of fields: a space has a few thousand distinct layers, and
    expanding architectures is on the predictor's hot path (the spec is immutable)."""
    return LayerSpec(
        input_h=hw, input_w=hw, skip=skip, expansion=expansion, se_ratio=se_ratio, **fields
    )
