"""MnasNet's kind of space (:class:`SearchSpace`, factorized: one ConvOp choice repeated per
stage) and the enumeration of its candidate layers. The ``mnasnet`` space itself is a shipped
file (``lutnas/spaces/builtin/mnasnet.toml``), read like any user's.

A space is a base network (stem, stage table, head) plus the per-block choices. An architecture
(:class:`lutnas.spaces.arch.Arch`) picks one value per decision; :meth:`SearchSpace.decisions`
lists the decisions in token order (one token per decision, for the RL controller). The
interface both kinds share is :class:`lutnas.spaces.base.Space`; the registry is
:mod:`lutnas.spaces.registry` (its functions are importable from here too).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import ClassVar

from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from lutnas.spaces.arch_record import check_block
from lutnas.spaces.base import (
    FORMAT_VERSION,
    MAX_RESOLUTION,
    MIN_RESOLUTION,
    Decision,
    NamedArchDef,
    Space,
    archs_definition,
    round_channels,
    square_layer,
)
from lutnas.spaces.blocks import BlockChoice, ConvOp
from lutnas.spaces.registry import get_space, list_spaces, register_space

__all__ = [
    "ConvOp",
    "Decision",
    "SearchSpace",
    "Space",
    "Stage",
    "get_space",
    "list_spaces",
    "register_space",
    "round_channels",
    "MAX_RESOLUTION",
    "MIN_RESOLUTION",
]


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One row of the base network's stage table and the choices its block takes.

    The layer-count choices are ``layers + delta`` for each delta (at least 1), the width
    choices ``multiplier × channels`` rounded to the space's channel divisor."""

    channels: int  # base output channels
    layers: int  # base number of layers
    stride: int  # of the stage's first layer
    conv_ops: tuple[ConvOp, ...]
    kernels: tuple[int, ...]
    se_ratios: tuple[float, ...]
    skips: tuple[str, ...]
    width_multipliers: tuple[float, ...]
    layer_deltas: tuple[int, ...]

    def definition(self) -> dict:
        return {
            "channels": self.channels,
            "layers": self.layers,
            "stride": self.stride,
            "conv_ops": [op.label for op in self.conv_ops],
            "kernels": list(self.kernels),
            "se_ratios": [float(x) for x in self.se_ratios],
            "skips": list(self.skips),
            "width_multipliers": [float(x) for x in self.width_multipliers],
            "layer_deltas": list(self.layer_deltas),
        }


@dataclass(frozen=True, kw_only=True)
class SearchSpace(Space):
    """A factorized hierarchical search space (MnasNet, arXiv 1807.11626): per stage one layer,
    chosen from the stage's choice sets, repeated."""

    kind: ClassVar[str] = "factorized"
    name: str
    stages: tuple[Stage, ...]
    resolutions: tuple[int, ...]
    stem_channels: int = 32
    stem_stride: int = 2
    stem_kernel: int = 3
    head_channels: int = 1280
    num_classes: int = 1000
    act: str = "relu"
    channel_divisor: int = 8
    archs: tuple[NamedArchDef, ...] = field(default=(), compare=False)

    @property
    def stem_out_channels(self) -> int:
        return self.stem_channels

    def definition(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "kind": self.kind,
            "resolutions": list(self.resolutions),
            "channel_divisor": self.channel_divisor,
            "act": self.act,
            "stem": {
                "channels": self.stem_channels,
                "kernel": self.stem_kernel,
                "stride": self.stem_stride,
            },
            "head": {"channels": self.head_channels, "classes": self.num_classes},
            "stages": [s.definition() for s in self.stages],
            "archs": archs_definition(self.archs),
        }

    # --- choices -----------------------------------------------------------------------
    def width_choices(self, stage: int) -> tuple[int, ...]:
        """Output channels stage ``stage`` may take: multiplier × base, rounded to the channel
        divisor, deduplicated (e.g. 0.75 × 16 and 1.0 × 16 both give 16)."""
        st = self.stages[stage]
        return tuple(
            sorted(
                {
                    round_channels(m * st.channels, self.channel_divisor)
                    for m in st.width_multipliers
                }
            )
        )

    def layer_choices(self, stage: int) -> tuple[int, ...]:
        """Layer counts of a stage: base + delta, at least 1, deduplicated."""
        st = self.stages[stage]
        return tuple(sorted({max(1, st.layers + d) for d in st.layer_deltas}))

    def decisions(self) -> list[Decision]:
        """Every decision in token order: the resolution, then six per stage."""
        out = [Decision("resolution", tuple(self.resolutions))]
        for i, st in enumerate(self.stages):
            out += [
                Decision(f"b{i}.conv_op", tuple(st.conv_ops)),
                Decision(f"b{i}.kernel", tuple(st.kernels)),
                Decision(f"b{i}.se_ratio", tuple(st.se_ratios)),
                Decision(f"b{i}.skip", tuple(st.skips)),
                Decision(f"b{i}.channels", self.width_choices(i)),
                Decision(f"b{i}.layers", self.layer_choices(i)),
            ]
        return out

    # --- geometry ----------------------------------------------------------------------
    def stem_strides(self) -> tuple[int, ...]:
        return (self.stem_stride,)

    def stem_spec(self, resolution: int) -> LayerSpec:
        return LayerSpec(
            op="stem",
            kernel=self.stem_kernel,
            expansion=1,
            se_ratio=0.0,
            skip="noskip",
            act=self.act,
            cin=3,
            cout=self.stem_channels,
            stride=self.stem_stride,
            input_h=resolution,
            input_w=resolution,
        )

    def stem_specs(self, resolution: int) -> list[LayerSpec]:
        return [self.stem_spec(resolution)]

    def head_specs(self, cin: int, hw: int, num_classes: int | None = None) -> list[LayerSpec]:
        """The head (1×1 conv, pool) at spatial size ``hw`` and the classifier."""
        classes = self.num_classes if num_classes is None else num_classes
        common = {"kernel": 1, "expansion": 1, "se_ratio": 0.0, "skip": "noskip", "act": self.act}
        return [
            LayerSpec(
                op="head",
                cin=cin,
                cout=self.head_channels,
                stride=1,
                input_h=hw,
                input_w=hw,
                **common,
            ),
            LayerSpec(
                op="fc",
                cin=self.head_channels,
                cout=classes,
                stride=1,
                input_h=1,
                input_w=1,
                **common,
            ),
        ]

    def block_layer(
        self,
        op: ConvOp,
        kernel: int,
        se_ratio: float,
        skip: str,
        cin: int,
        cout: int,
        stride: int,
        hw: int,
    ) -> LayerSpec:
        """One layer of a block. An identity skip across a shape change becomes ``noskip``
        (the residual is dropped where shapes differ, as in MobileNetV2). Cached: a space has a
        few thousand distinct layers, and expanding architectures is on the predictor's hot
        path; the returned spec is immutable."""
        if skip == "idskip" and (cin != cout or stride != 1):
            skip = "noskip"
        return square_layer(
            op=op.op,
            kernel=kernel,
            expansion=op.expansion,
            se_ratio=se_ratio,
            skip=skip,
            act=self.act,
            cin=cin,
            cout=cout,
            stride=stride,
            hw=hw,
        )

    # --- blocks ------------------------------------------------------------------------
    def check_blocks(self, blocks: tuple) -> None:
        super().check_blocks(blocks)
        for i, b in enumerate(blocks):
            if not isinstance(b, BlockChoice):
                raise LutnasError(f"stage {i}: space {self.name!r} takes a BlockChoice, got {b!r}")
            if b.layers < 1 or b.channels < 1:
                raise LutnasError(f"stage {i}: layers and channels must be at least 1 ({b})")

    def block_from_record(self, data: object, name: str) -> BlockChoice:
        return BlockChoice(**check_block(data, name))

    def block_from_label(self, label: str) -> BlockChoice:
        return BlockChoice.from_label(label)

    def block_problems(self, stage: int, block: BlockChoice) -> list[str]:
        out, st = [], self.stages[stage]
        for name, value, allowed in [
            ("conv_op", block.conv_op, st.conv_ops),
            ("kernel", block.kernel, st.kernels),
            ("se_ratio", block.se_ratio, st.se_ratios),
            ("skip", block.skip, st.skips),
            ("channels", block.channels, self.width_choices(stage)),
            ("layers", block.layers, self.layer_choices(stage)),
        ]:
            if value not in allowed:
                out.append(f"stage {stage} {name} {value!r} not in {tuple(allowed)!r}")
        return out

    def token_values(self, resolution: int, blocks: tuple) -> list:
        values = [resolution]
        for b in blocks:
            values += [b.conv_op, b.kernel, b.se_ratio, b.skip, b.channels, b.layers]
        return values

    def blocks_from_values(self, values: list) -> tuple:
        blocks = []
        for i in range(len(self.stages)):
            op, k, se, skip, ch, n = values[1 + 6 * i : 7 + 6 * i]
            blocks.append(
                BlockChoice(
                    op=op.op,
                    expansion=op.expansion,
                    kernel=k,
                    se_ratio=se,
                    skip=skip,
                    channels=ch,
                    layers=n,
                )
            )
        return tuple(blocks)

    # --- enumeration -------------------------------------------------------------------
    def unique_layers(self, resolution: int) -> list[LayerSpec]:
        """Every distinct layer any architecture of this space can contain at ``resolution``,
        in a stable order: stem, each stage's first and repeated layers, heads."""
        self.check_resolution(resolution)
        seen: dict[str, LayerSpec] = {}

        def add(spec: LayerSpec) -> None:
            seen.setdefault(spec.key, spec)

        add(self.stem_spec(resolution))
        inputs = self.stage_inputs(resolution)
        prev_widths: tuple[int, ...] = (self.stem_channels,)
        for i, stage in enumerate(self.stages):
            combos = list(
                itertools.product(stage.conv_ops, stage.kernels, stage.se_ratios, stage.skips)
            )
            hw = inputs[i]
            out_hw = (hw - 1) // stage.stride + 1
            widths = self.width_choices(i)
            for (op, k, se, skip), cin, cout in itertools.product(combos, prev_widths, widths):
                add(
                    self.block_layer(
                        op,
                        kernel=k,
                        se_ratio=se,
                        skip=skip,
                        cin=cin,
                        cout=cout,
                        stride=stage.stride,
                        hw=hw,
                    )
                )
            if max(self.layer_choices(i)) > 1:
                for (op, k, se, skip), c in itertools.product(combos, widths):
                    add(
                        self.block_layer(
                            op,
                            kernel=k,
                            se_ratio=se,
                            skip=skip,
                            cin=c,
                            cout=c,
                            stride=1,
                            hw=out_hw,
                        )
                    )
            prev_widths = widths
        for cin in prev_widths:
            for spec in self.head_specs(cin, self.final_hw(resolution)):
                add(spec)
        return list(seen.values())
