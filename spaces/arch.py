"""``Arch``: one architecture of a search space, immutable, with JSON and token forms.

An ``Arch`` stores concrete values (channels, not multipliers), so networks slightly off a
space's grid — MnasNet-A1's 112-wide stage — are still expressible; :meth:`SearchSpace`
membership is checked by :meth:`Arch.problems` and required only for tokens.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from spaces.arch_record import check_record
from spaces.space import ConvOp, SearchSpace, get_space

if TYPE_CHECKING:
    from torch import nn


_LABEL_RE = re.compile(
    r"^(?P<op>conv|dconv|mbconv)(?P<expansion>\d*)_k(?P<kernel>\d+)(?:_se(?P<se_ratio>[0-9.]+))?"
    r"_(?P<skip>[a-z]+)_c(?P<channels>\d+)_n(?P<layers>\d+)$"
)


@dataclass(frozen=True, kw_only=True)
class BlockChoice:
    """The layer chosen for one stage, repeated ``layers`` times.

    Its label (one part of an :attr:`Arch.key`), decoded by :meth:`from_label`::

        {op}{expansion if mbconv}_k{kernel}[_se{se_ratio}]_{skip}_c{channels}_n{layers}

        e.g. mbconv6_k5_se0.25_idskip_c40_n3, dconv_k3_noskip_c16_n1
    """

    op: str  # conv | dconv | mbconv
    expansion: int  # 1 for conv and dconv
    kernel: int
    se_ratio: float
    skip: str  # poolskip | idskip | noskip (idskip is dropped where shapes change)
    channels: int  # output channels of the stage
    layers: int  # how many times the layer repeats; only the first has the stage's stride

    @property
    def conv_op(self) -> ConvOp:
        return ConvOp(self.op, self.expansion)

    def label(self) -> str:
        se = f"_se{self.se_ratio:g}" if self.se_ratio else ""
        return (
            f"{self.conv_op.label}_k{self.kernel}{se}_{self.skip}_c{self.channels}_n{self.layers}"
        )

    @classmethod
    def from_label(cls, label: str) -> BlockChoice:
        """The block whose :meth:`label` is ``label`` (grammar in the class docstring).

        Raises:
            LutnasError: ``label`` does not follow the grammar.
        """
        m = _LABEL_RE.match(label)
        if m is None or (m["op"] == "mbconv") != bool(m["expansion"]):
            raise LutnasError(
                f"{label!r} is not a block label like mbconv6_k5_se0.25_idskip_c40_n3 "
                "(the expansion is given for mbconv only)"
            )
        return cls(
            op=m["op"],
            expansion=int(m["expansion"] or 1),
            kernel=int(m["kernel"]),
            se_ratio=float(m["se_ratio"] or 0.0),
            skip=m["skip"],
            channels=int(m["channels"]),
            layers=int(m["layers"]),
        )

    def layer_specs(self, space: SearchSpace, stage: int, cin: int, hw: int) -> list[LayerSpec]:
        """This block's layers as stage ``stage`` of ``space``, taking ``cin`` channels at
        ``hw``×``hw``: the first layer has the stage's stride, the repeats (stride 1, ``channels``
        in and out) are one and the same spec."""
        op = self.conv_op
        first = space.block_layer(
            op,
            kernel=self.kernel,
            se_ratio=self.se_ratio,
            skip=self.skip,
            cin=cin,
            cout=self.channels,
            stride=space.stages[stage].stride,
            hw=hw,
        )
        if self.layers == 1:
            return [first]
        repeat = space.block_layer(
            op,
            kernel=self.kernel,
            se_ratio=self.se_ratio,
            skip=self.skip,
            cin=self.channels,
            cout=self.channels,
            stride=1,
            hw=first.output_hw[0],
        )
        return [first] + [repeat] * (self.layers - 1)


@dataclass(frozen=True)
class Arch:
    """One architecture: a space name, an input resolution and one ``BlockChoice`` per stage."""

    space: str
    resolution: int
    blocks: tuple[BlockChoice, ...]

    def __post_init__(self) -> None:
        space = get_space(self.space)
        space.check_resolution(self.resolution)
        if len(self.blocks) != len(space.stages):
            raise LutnasError(
                f"space {self.space!r} has {len(space.stages)} stages, "
                f"the architecture gives {len(self.blocks)}"
            )
        for i, b in enumerate(self.blocks):
            if b.layers < 1 or b.channels < 1:
                raise LutnasError(f"stage {i}: layers and channels must be at least 1 ({b})")
        self.layers()  # every layer must be a valid LayerSpec; raises LutnasError otherwise

    @property
    def space_obj(self) -> SearchSpace:
        return get_space(self.space)

    # --- identity ------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """Readable canonical key: ``mnasnet@224:dconv_k3_noskip_c16_n1|...``."""
        return f"{self.space}@{self.resolution}:" + "|".join(b.label() for b in self.blocks)

    @property
    def short_id(self) -> str:
        return hashlib.sha1(self.key.encode()).hexdigest()[:12]

    # --- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "space": self.space,
            "resolution": self.resolution,
            "blocks": [asdict(b) for b in self.blocks],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> Arch:
        """The architecture of a record like :meth:`to_dict`'s, every field checked
        (:func:`spaces.arch_record.check_record`).

        Raises:
            LutnasError: naming the field, its accepted type and range, and the value given.
        """
        space, resolution, blocks = check_record(data)
        return cls(space, resolution, tuple(BlockChoice(**b) for b in blocks))

    @classmethod
    def from_json(cls, text: str) -> Arch:
        """The architecture of a JSON record (see :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LutnasError(f"not an architecture record: invalid JSON ({exc})") from None
        return cls.from_dict(data)

    # --- tokens --------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Values that lie outside the space's choices (empty when the arch is in the space)."""
        space, out = self.space_obj, []
        if self.resolution not in space.resolutions:
            out.append(f"resolution {self.resolution} not in {space.resolutions}")
        for i, b in enumerate(self.blocks):
            for name, value, allowed in [
                ("conv_op", b.conv_op, space.conv_ops),
                ("kernel", b.kernel, space.kernels),
                ("se_ratio", b.se_ratio, space.se_ratios),
                ("skip", b.skip, space.skips),
                ("channels", b.channels, space.width_choices(i)),
                ("layers", b.layers, space.layer_choices(i)),
            ]:
                if value not in allowed:
                    out.append(f"stage {i} {name} {value!r} not in {tuple(allowed)!r}")
        return out

    def to_tokens(self) -> list[int]:
        """One index per decision of ``space.decisions()``.

        Raises:
            LutnasError: a value lies outside the space (see :meth:`problems`).
        """
        problems = self.problems()
        if problems:
            raise LutnasError(
                f"{self.key} is not in space {self.space!r}, so it has no tokens: "
                + "; ".join(problems)
            )
        values = [self.resolution]
        for b in self.blocks:
            values += [b.conv_op, b.kernel, b.se_ratio, b.skip, b.channels, b.layers]
        return [d.choices.index(v) for d, v in zip(self.space_obj.decisions(), values, strict=True)]

    @classmethod
    def from_tokens(cls, space_name: str, tokens: list[int]) -> Arch:
        space = get_space(space_name)
        decisions = space.decisions()
        if len(tokens) != len(decisions):
            raise LutnasError(
                f"space {space_name!r} takes {len(decisions)} tokens, got {len(tokens)}"
            )
        values = []
        for d, t in zip(decisions, tokens, strict=True):
            if not 0 <= int(t) < len(d.choices):
                raise LutnasError(f"token {t} out of range for {d.name} ({len(d.choices)} choices)")
            values.append(d.choices[int(t)])
        blocks = []
        for i in range(len(space.stages)):
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
        return cls(space_name, values[0], tuple(blocks))

    # --- layers and module ---------------------------------------------------------------
    def layers(self, num_classes: int | None = None) -> list[LayerSpec]:
        """The network as LUT layers: stem, every layer of every stage, head, classifier.

        An identity skip on a layer whose shape changes (a stage's first layer with a stride
        or a new width) is dropped, i.e. that layer is ``noskip``.
        """
        space = get_space(self.space)
        specs = [space.stem_spec(self.resolution)]
        cin = space.stem_channels
        for i, (b, hw) in enumerate(
            zip(self.blocks, space.stage_inputs(self.resolution), strict=True)
        ):
            specs += b.layer_specs(space, i, cin, hw)
            cin = b.channels
        specs += space.head_specs(cin, space.final_hw(self.resolution), num_classes)
        return specs

    def build(self, num_classes: int | None = None) -> nn.Module:
        """A trainable module (train mode) taking ``(N, 3, resolution, resolution)`` input."""
        from torch import nn

        from lut.modules import build_layer

        return nn.Sequential(*(build_layer(s).train() for s in self.layers(num_classes)))

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, self.resolution, self.resolution)
