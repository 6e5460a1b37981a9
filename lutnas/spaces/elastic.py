"""Layer-wise ("elastic") spaces: Once-for-All's MobileNetV3 space (arXiv 1908.09791, §3.1).

The base network is fixed: stem, first block, the stage table (widths, strides, SE and
activation per stage) and the head. Each stage chooses its depth, and each of its layers its
own kernel and expansion ratio, so a stage's choice is a :class:`StageChoice` (its output width
and a tuple of :class:`LayerChoice`). Every layer is an MBConv with residual where shapes match;
SE squeezes the expanded width ``make_divisible(mid // 4)`` with a ReLU inside and a
hard-sigmoid gate, as MobileNetV3 and OFA do; these choices name LUT rows with the same keys as
torchvision's MobileNetV3 decomposed.

Tokens: the resolution, then per stage its depth and ``max(depths)`` slots of (kernel,
expansion); a slot beyond the depth is ignored (and is 0 in :meth:`ElasticSpace.token_values`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from lut.spec import LayerSpec, se_ratio_of
from lutnas.errors import LutnasError
from lutnas.spaces.arch_record import (
    MAX_CHANNELS,
    MAX_LAYERS,
    check_fields,
    whole_number,
)
from lutnas.spaces.base import Decision, Space, make_divisible, square_layer
from lutnas.spaces.elastic_blocks import LayerChoice, StageChoice, layer_from_record
from lutnas.spaces.registry import register_space


@dataclass(frozen=True)
class ElasticStage:
    """One row of the base network's stage table."""

    channels: int
    stride: int  # of the stage's first layer
    se: bool
    act: str  # relu | hswish


@dataclass(frozen=True, kw_only=True)
class ElasticSpace(Space):
    """A layer-wise space on a fixed MobileNetV3 base (stem → first block → stages → head)."""

    name: str
    stages: tuple[ElasticStage, ...]
    stem_channels: int = 16  # the stem's and the first block's width
    stem_act: str = "hswish"
    first_stride: int = 1  # of the first block (a depthwise-separable layer, ReLU)
    first_se: bool = False
    head_channels: int = 960  # 1×1 conv → pool
    hidden_channels: int = 1280  # linear → act, then the classifier
    head_act: str = "hswish"
    num_classes: int = 1000
    depths: tuple[int, ...] = (2, 3, 4)
    kernels: tuple[int, ...] = (3, 5, 7)
    expansions: tuple[int, ...] = (3, 4, 6)
    resolutions: tuple[int, ...] = tuple(range(128, 225, 16))

    # --- choices -----------------------------------------------------------------------
    def decisions(self) -> list[Decision]:
        out = [Decision("resolution", tuple(self.resolutions))]
        for i in range(len(self.stages)):
            out.append(Decision(f"s{i}.depth", tuple(self.depths)))
            for j in range(max(self.depths)):
                out.append(Decision(f"s{i}.l{j}.kernel", tuple(self.kernels)))
                out.append(Decision(f"s{i}.l{j}.expansion", tuple(self.expansions)))
        return out

    def token_values(self, resolution: int, blocks: tuple) -> list:
        values: list = [resolution]
        for b in blocks:
            values.append(b.depth)
            for j in range(max(self.depths)):
                x = b.layers[j] if j < b.depth else None
                values += [x.kernel, x.expansion] if x else [self.kernels[0], self.expansions[0]]
        return values

    def blocks_from_values(self, values: list) -> tuple:
        per_stage, blocks = 1 + 2 * max(self.depths), []
        for i, stage in enumerate(self.stages):
            depth, *slots = values[1 + per_stage * i : 1 + per_stage * (i + 1)]
            layers = tuple(LayerChoice(slots[2 * j], slots[2 * j + 1]) for j in range(depth))
            blocks.append(StageChoice(stage.channels, layers))
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
        out, cin = [], self.stem_channels
        for b in blocks:
            layers = tuple(
                self._canonical_layer(x, cin if j == 0 else b.channels)
                for j, x in enumerate(b.layers)
            )
            out.append(b if layers == b.layers else StageChoice(b.channels, layers))
            cin = b.channels
        return tuple(out)

    def _canonical_layer(self, layer: LayerChoice, cin: int) -> LayerChoice:
        expansion, rest = divmod(layer.mid, cin)
        if layer.mid and not rest and expansion in self.expansions:
            return LayerChoice(layer.kernel, expansion)
        return layer

    def block_problems(self, stage: int, block: StageChoice) -> list[str]:
        out = []
        if block.channels != self.stages[stage].channels:
            out.append(
                f"stage {stage} channels {block.channels} not in ({self.stages[stage].channels},)"
            )
        if block.depth not in self.depths:
            out.append(f"stage {stage} depth {block.depth} not in {self.depths}")
        for j, x in enumerate(block.layers):
            if x.kernel not in self.kernels:
                out.append(f"stage {stage} layer {j} kernel {x.kernel} not in {self.kernels}")
            if x.mid:
                out.append(
                    f"stage {stage} layer {j} expanded width {x.mid} is off the grid "
                    f"(expansion {self.expansions} of the layer's input)"
                )
            elif x.expansion not in self.expansions:
                out.append(
                    f"stage {stage} layer {j} expansion {x.expansion} not in {self.expansions}"
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
        return (2, self.first_stride)  # the stem conv, the first block

    def stem_specs(self, resolution: int) -> list[LayerSpec]:
        c = self.stem_channels
        stem = square_layer(
            op="stem", kernel=3, act=self.stem_act, cin=3, cout=c, stride=2, hw=resolution
        )
        se = _se_fields(c) if self.first_se else {}
        first = square_layer(
            op="dconv",
            kernel=3,
            act="relu",
            cin=c,
            cout=c,
            stride=self.first_stride,
            hw=stem.output_hw[0],
            skip="idskip" if self.first_stride == 1 else "noskip",
            **se,
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
        """1×1 conv → act → pool, linear → act, and the classifier (MobileNetV3's head)."""
        classes = self.num_classes if num_classes is None else num_classes
        act, hidden = self.head_act, self.hidden_channels
        return [
            square_layer(
                op="head", kernel=1, act=act, cin=cin, cout=self.head_channels, stride=1, hw=hw
            ),
            square_layer(
                op="fcact", kernel=1, act=act, cin=self.head_channels, cout=hidden, stride=1, hw=1
            ),
            square_layer(op="fc", kernel=1, act="relu", cin=hidden, cout=classes, stride=1, hw=1),
        ]

    # --- enumeration -------------------------------------------------------------------
    def unique_layers(self, resolution: int) -> list[LayerSpec]:
        """Every distinct layer of the space at ``resolution``: the stem segment, each stage's
        first layer (stride, new width) and repeated layer for every kernel × expansion, the
        head."""
        self.check_resolution(resolution)
        seen = {s.key: s for s in self.stem_specs(resolution)}
        cin = self.stem_channels
        for i, (stage, hw) in enumerate(
            zip(self.stages, self.stage_inputs(resolution), strict=True)
        ):
            out_hw = (hw - 1) // stage.stride + 1
            for k, e in itertools.product(self.kernels, self.expansions):
                c = stage.channels
                for spec in (
                    self.stage_layer(
                        i, kernel=k, mid=cin * e, cin=cin, cout=c, stride=stage.stride, hw=hw
                    ),
                    self.stage_layer(i, kernel=k, mid=c * e, cin=c, cout=c, stride=1, hw=out_hw),
                ):
                    seen.setdefault(spec.key, spec)
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


# Once-for-All's MobileNetV3 space: MobileNetV3-Large's base (torchvision's widths, strides, SE
# and activations per stage), depth {2, 3, 4}, kernel {3, 5, 7}, expansion {3, 4, 6}.
MOBILENETV3 = register_space(
    ElasticSpace(
        name="mobilenetv3",
        stages=(
            ElasticStage(24, 2, se=False, act="relu"),  # 112 → 56 at 224
            ElasticStage(40, 2, se=True, act="relu"),  # 56 → 28
            ElasticStage(80, 2, se=False, act="hswish"),  # 28 → 14
            ElasticStage(112, 1, se=True, act="hswish"),  # 14 → 14
            ElasticStage(160, 2, se=True, act="hswish"),  # 14 → 7, then 960, pool, 1280, FC
        ),
    )
)

# The same choices on MobileNetV3-Small's base (not a space of the OFA paper; it holds
# torchvision's mobilenet_v3_small, whose stages and head differ from Large's).
MOBILENETV3_SMALL = register_space(
    ElasticSpace(
        name="mobilenetv3-small",
        first_stride=2,
        first_se=True,
        stages=(
            ElasticStage(24, 2, se=False, act="relu"),  # 56 → 28 at 224
            ElasticStage(40, 2, se=True, act="hswish"),  # 28 → 14
            ElasticStage(48, 1, se=True, act="hswish"),  # 14 → 14
            ElasticStage(96, 2, se=True, act="hswish"),  # 14 → 7, then 576, pool, 1024, FC
        ),
        head_channels=576,
        hidden_channels=1024,
    )
)
