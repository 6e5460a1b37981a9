"""The block of a factorized (MnasNet) space: one ConvOp choice repeated over a stage.

:class:`BlockChoice` is the value one stage of an :class:`~lutnas.spaces.arch.Arch` takes in
:class:`~lutnas.spaces.space.SearchSpace`; the space's other kind, the layer-wise MobileNetV3
space, has its own block (:class:`~lutnas.spaces.elastic_blocks.StageChoice`). Both give the same
small interface:
``channels``, ``label()``, ``segment_key``, ``to_record()`` and
``layer_specs(space, stage, cin, hw)``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lutnas.errors import LutnasError

if TYPE_CHECKING:
    from lut.spec import LayerSpec
    from lutnas.spaces.space import SearchSpace

BLOCK_FIELDS = ("op", "expansion", "kernel", "se_ratio", "skip", "channels", "layers")


@dataclass(frozen=True)
class ConvOp:
    """A ConvOp choice: op kind and its expansion ratio (1 for conv and dconv)."""

    op: str
    expansion: int = 1

    @property
    def label(self) -> str:
        return f"{self.op}{self.expansion}" if self.op == "mbconv" else self.op


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

    @functools.cached_property
    def segment_key(self) -> tuple:
        """The block as a tuple of plain values (a cache key that hashes fast)."""
        return (
            self.op,
            self.expansion,
            self.kernel,
            self.se_ratio,
            self.skip,
            self.channels,
            self.layers,
        )

    def to_record(self) -> dict:
        """The block's JSON record (the fields of the class, by name)."""
        return {f: getattr(self, f) for f in BLOCK_FIELDS}

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
