"""The layer-wise ("elastic") kind of space: Once-for-All's MobileNetV3 space (arXiv 1908.09791,
§3.1) and ProxylessNAS's mobile space (arXiv 1812.00332) are written in it (shipped files in
``lutnas/spaces/builtin/``).

The base network is fixed: stem, an optional first block, the stage table (widths, strides, SE
and activation per stage; :mod:`lutnas.spaces.elastic_table`) and the head. Each stage chooses
its depth, and each of its layers its own kernel and expansion ratio, so a stage's choice is a
:class:`StageChoice` (its output width and a tuple of :class:`LayerChoice`). Every layer is an
MBConv with residual where shapes match; SE squeezes the expanded width
``make_divisible(mid // 4)`` with a ReLU inside and a hard-sigmoid gate, as MobileNetV3 and OFA
do; these choices name LUT rows with the same keys as torchvision's MobileNetV3 decomposed.

Tokens: the resolution, then per stage its depth and ``max(depths)`` slots of (kernel,
expansion); a slot beyond the depth is ignored (and is the first choice in
:meth:`ElasticSpace.token_values`). In a stage with ``zero`` (ProxylessNAS's zero op), every
slot but the first starts with a zero decision (False, True): a zero slot is skipped, so the
stage's depth is its non-zero slots within the depth token.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import ClassVar

from lut.spec import LayerSpec, se_ratio_of
from lutnas.errors import LutnasError
from lutnas.spaces.arch_record import (
    MAX_CHANNELS,
    MAX_LAYERS,
    check_fields,
    whole_number,
)
from lutnas.spaces.base import (
    FORMAT_VERSION,
    Decision,
    NamedArchDef,
    Space,
    archs_definition,
    make_divisible,
    square_layer,
)
from lutnas.spaces.elastic_blocks import LayerChoice, StageChoice, layer_from_record
from lutnas.spaces.elastic_table import ElasticStage, FirstBlock


@dataclass(frozen=True, kw_only=True)
class ElasticSpace(Space):
    """A layer-wise space on a fixed base (stem → [first block] → stages → head): per stage a
    depth, per layer a kernel and an expansion."""

    kind: ClassVar[str] = "layerwise"
    name: str
    stages: tuple[ElasticStage, ...]
    resolutions: tuple[int, ...]
    stem_channels: int = 16  # the stem conv's width
    stem_kernel: int = 3
    stem_stride: int = 2
    stem_act: str = "hswish"
    first: FirstBlock | None = FirstBlock(channels=16)
    head_channels: int = 960  # 1×1 conv → pool
    head_act: str = "hswish"
    hidden_channels: int = 1280  # linear → act before the classifier (0: none)
    num_classes: int = 1000
    channel_divisor: int = 8
    archs: tuple[NamedArchDef, ...] = field(default=(), compare=False)

    @property
    def stem_out_channels(self) -> int:
        return self.first.channels if self.first else self.stem_channels

    def definition(self) -> dict:
        out = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "kind": self.kind,
            "resolutions": list(self.resolutions),
            "channel_divisor": self.channel_divisor,
            "stem": {
                "channels": self.stem_channels,
                "kernel": self.stem_kernel,
                "stride": self.stem_stride,
                "act": self.stem_act,
            },
            "head": {
                "channels": self.head_channels,
                "act": self.head_act,
                "hidden_channels": self.hidden_channels,
                "classes": self.num_classes,
            },
            "stages": [s.definition() for s in self.stages],
            "archs": archs_definition(self.archs),
        }
        if self.first is not None:
            out["first"] = self.first.definition()
        return out

    # --- choices -----------------------------------------------------------------------
    def decisions(self) -> list[Decision]:
        """The resolution, then per stage its depth and one slot per layer position: (kernel,
        expansion), after a zero decision on every slot but the first in a stage with zero."""
        out = [Decision("resolution", tuple(self.resolutions))]
        for i, st in enumerate(self.stages):
            out.append(Decision(f"s{i}.depth", tuple(st.depths)))
            for j in range(st.slots):
                if st.zero and j:
                    out.append(Decision(f"s{i}.l{j}.zero", (False, True)))
                out.append(Decision(f"s{i}.l{j}.kernel", tuple(st.kernels)))
                out.append(Decision(f"s{i}.l{j}.expansion", tuple(st.expansions)))
        return out

    def token_values(self, resolution: int, blocks: tuple) -> list:
        values: list = [resolution]
        for st, b in zip(self.stages, blocks, strict=True):
            depth = st.token_depth(b.depth)
            values.append(depth)
            for j in range(st.slots):
                if st.zero and j:
                    values.append(b.depth <= j < depth)
                x = b.layers[j] if j < b.depth else None
                values += [x.kernel, x.expansion] if x else [st.kernels[0], st.expansions[0]]
        return values

    def blocks_from_values(self, values: list) -> tuple:
        blocks, at = [], 1
        for st in self.stages:
            depth, at = values[at], at + 1
            layers = []
            for j in range(st.slots):
                zero = False
                if st.zero and j:
                    zero, at = values[at], at + 1
                kernel, expansion, at = values[at], values[at + 1], at + 2
                if j < depth and not zero:
                    layers.append(LayerChoice(kernel, expansion))
            blocks.append(StageChoice(st.channels, tuple(layers)))
        return tuple(blocks)

    def check_blocks(self, blocks: tuple) -> None:
        super().check_blocks(blocks)
        for i, b in enumerate(blocks):
            if not isinstance(b, StageChoice):
                raise LutnasError(f"stage {i}: space {self.name!r} takes a StageChoice, got {b!r}")
            if not 1 <= b.depth <= MAX_LAYERS or b.channels < 1:
                raise LutnasError(
                    f"stage {i}: a stage has 1 to {MAX_LAYERS} layers and at least 1 channel "
                    f"({b.label()})"
                )

    def canonical_blocks(self, blocks: tuple) -> tuple:
        """A layer whose expanded width is its input times a grid expansion (``k3m48`` on a
        16-wide input) is written as that expansion (``k3e3``): the same network, one key."""
        out, cin = [], self.stem_out_channels
        for i, b in enumerate(blocks):
            layers = tuple(
                self._canonical_layer(x, cin if j == 0 else b.channels, i)
                for j, x in enumerate(b.layers)
            )
            out.append(b if layers == b.layers else StageChoice(b.channels, layers))
            cin = b.channels
        return tuple(out)

    def _canonical_layer(self, layer: LayerChoice, cin: int, stage: int) -> LayerChoice:
        expansion, rest = divmod(layer.mid, cin)
        if layer.mid and not rest and expansion in self.stages[stage].expansions:
            return LayerChoice(layer.kernel, expansion)
        return layer

    def block_problems(self, stage: int, block: StageChoice) -> list[str]:
        out, st = [], self.stages[stage]
        if block.channels != st.channels:
            out.append(f"stage {stage} channels {block.channels} not in ({st.channels},)")
        if not st.reachable(block.depth):
            zero = " or fewer (zero layers), from 1" if st.zero else ""
            out.append(f"stage {stage} depth {block.depth} not in {st.depths}{zero}")
        for j, x in enumerate(block.layers):
            if x.kernel not in st.kernels:
                out.append(f"stage {stage} layer {j} kernel {x.kernel} not in {st.kernels}")
            if x.mid:
                out.append(
                    f"stage {stage} layer {j} expanded width {x.mid} is off the grid "
                    f"(expansion {st.expansions} of the layer's input)"
                )
            elif x.expansion not in st.expansions:
                out.append(
                    f"stage {stage} layer {j} expansion {x.expansion} not in {st.expansions}"
                )
        return out

    def block_from_record(self, data: object, name: str) -> StageChoice:
        check_fields(data, name, ("channels", "layers"))
        channels = whole_number(data["channels"], f"{name}.channels", 1, MAX_CHANNELS)
        layers = data["layers"]
        if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
            raise LutnasError(
                f"{name}.layers must be a list of 1 to {MAX_LAYERS} layer records "
                f'like {{"kernel": 5, "expansion": 4}}, got {layers!r}'
            )
        return StageChoice(
            channels,
            tuple(layer_from_record(x, f"{name}.layers[{j}]") for j, x in enumerate(layers)),
        )

    def block_from_label(self, label: str) -> StageChoice:
        return StageChoice.from_label(label)

    # --- geometry ----------------------------------------------------------------------
    def stem_strides(self) -> tuple[int, ...]:
        first = (self.first.stride,) if self.first else ()
        return (self.stem_stride, *first)  # the stem conv, the first block

    def stem_specs(self, resolution: int) -> list[LayerSpec]:
        stem = square_layer(
            op="stem",
            kernel=self.stem_kernel,
            act=self.stem_act,
            cin=3,
            cout=self.stem_channels,
            stride=self.stem_stride,
            hw=resolution,
        )
        f = self.first
        if f is None:
            return [stem]
        first = square_layer(
            op="dconv",
            kernel=f.kernel,
            act=f.act,
            cin=self.stem_channels,
            cout=f.channels,
            stride=f.stride,
            hw=stem.output_hw[0],
            skip="idskip" if f.stride == 1 and f.channels == self.stem_channels else "noskip",
            **(_se_fields(self.stem_channels) if f.se else {}),
        )
        return [stem, first]

    def stage_layer(
        self, stage: int, *, kernel: int, mid: int, cin: int, cout: int, stride: int, hw: int
    ) -> LayerSpec:
        """One MBConv layer of stage ``stage``: residual where shapes match, SE as the stage
        says."""
        st = self.stages[stage]
        return square_layer(
            op="mbconv",
            kernel=kernel,
            expansion=max(1, round(mid / cin)),
            mid=mid,
            act=st.act,
            cin=cin,
            cout=cout,
            stride=stride,
            hw=hw,
            skip="idskip" if cin == cout and stride == 1 else "noskip",
            **(_se_fields(mid) if st.se else {}),
        )

    def head_specs(self, cin: int, hw: int, num_classes: int | None = None) -> list[LayerSpec]:
        """1×1 conv → act → pool, [linear → act,] and the classifier (MobileNetV3's head; without
        the hidden linear, ProxylessNAS's)."""
        classes = self.num_classes if num_classes is None else num_classes
        act, hidden = self.head_act, self.hidden_channels
        out = [
            square_layer(
                op="head", kernel=1, act=act, cin=cin, cout=self.head_channels, stride=1, hw=hw
            )
        ]
        if hidden:
            out.append(
                square_layer(
                    op="fcact",
                    kernel=1,
                    act=act,
                    cin=self.head_channels,
                    cout=hidden,
                    stride=1,
                    hw=1,
                )
            )
        last = hidden or self.head_channels
        out.append(
            square_layer(op="fc", kernel=1, act="relu", cin=last, cout=classes, stride=1, hw=1)
        )
        return out

    # --- enumeration -------------------------------------------------------------------
    def unique_layers(self, resolution: int) -> list[LayerSpec]:
        """Every distinct layer of the space at ``resolution``: the stem segment, each stage's
        first layer (stride, new width) and, where it may have more than one layer, its repeated
        layer, for every kernel × expansion; the head."""
        self.check_resolution(resolution)
        seen = {s.key: s for s in self.stem_specs(resolution)}
        cin = self.stem_out_channels
        for i, (stage, hw) in enumerate(
            zip(self.stages, self.stage_inputs(resolution), strict=True)
        ):
            out_hw = (hw - 1) // stage.stride + 1
            for k, e in itertools.product(stage.kernels, stage.expansions):
                c = stage.channels
                first = self.stage_layer(
                    i, kernel=k, mid=cin * e, cin=cin, cout=c, stride=stage.stride, hw=hw
                )
                seen.setdefault(first.key, first)
                if stage.slots > 1:  # a repeated layer (stride 1, width in = out)
                    repeat = self.stage_layer(
                        i, kernel=k, mid=c * e, cin=c, cout=c, stride=1, hw=out_hw
                    )
                    seen.setdefault(repeat.key, repeat)
            cin = stage.channels
        for spec in self.head_specs(cin, self.final_hw(resolution)):
            seen.setdefault(spec.key, spec)
        return list(seen.values())


def _se_fields(gated: int) -> dict:
    """MobileNetV3's SE: squeeze to make_divisible(gated // 4), ReLU inside, hard-sigmoid gate."""
    squeeze = make_divisible(gated // 4)
    return {
        "se_ratio": se_ratio_of(squeeze, gated),
        "se_squeeze": squeeze,
        "se_act": "relu",
        "se_gate": "hsigmoid",
    }
