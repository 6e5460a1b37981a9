"""The block of a layer-wise space: a stage's width and its layers, each with its own kernel and
expansion (:class:`StageChoice`, :class:`LayerChoice`), with their labels and JSON records.
The space they live in is :class:`~lutnas.spaces.elastic.ElasticSpace`."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lutnas.errors import LutnasError
from lutnas.spaces.arch_record import (
    MAX_CHANNELS,
    MAX_EXPANSION,
    MAX_KERNEL,
    check_fields,
    whole_number,
)

if TYPE_CHECKING:
    from lut.spec import LayerSpec
    from lutnas.spaces.elastic import ElasticSpace

_LAYER_RE = re.compile(r"^k(?P<kernel>\d+)(?:e(?P<expansion>\d+)|m(?P<mid>\d+))$")
_STAGE_RE = re.compile(r"^c(?P<channels>\d+)_(?P<layers>k.*)$")
MAX_MID = MAX_CHANNELS * MAX_EXPANSION


@dataclass(frozen=True)
class LayerChoice:
    """One layer of a stage: its kernel and its expanded width, as an expansion ratio of the
    layer's input (``expansion``) or, off the grid, as a width (``mid``, e.g. MobileNetV3-Large's
    200). Exactly one of the two is set; the other is 0.

    Label: ``k{kernel}e{expansion}`` or ``k{kernel}m{mid}`` (``k5e4``, ``k3m200``)."""

    kernel: int
    expansion: int = 0
    mid: int = 0

    def __post_init__(self) -> None:
        if min(self.expansion, self.mid) < 0:
            raise LutnasError(f"a layer's expansion and mid width cannot be negative ({self})")
        if (self.expansion > 0) == (self.mid > 0):
            given = "both" if self.expansion else "neither"
            raise LutnasError(
                f"a layer gives its expansion or its mid width, exactly one; {given} given ({self})"
            )
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise LutnasError(f"kernel {self.kernel} must be odd and positive")

    def label(self) -> str:
        return (
            f"k{self.kernel}e{self.expansion}" if self.expansion else f"k{self.kernel}m{self.mid}"
        )

    def mid_width(self, cin: int) -> int:
        return self.mid or cin * self.expansion

    def to_record(self) -> dict:
        return (
            {"kernel": self.kernel, "mid": self.mid}
            if self.mid
            else {
                "kernel": self.kernel,
                "expansion": self.expansion,
            }
        )


@dataclass(frozen=True)
class StageChoice:
    """A stage of a layer-wise space: its output width and its layers (depth = their number).

    Label: ``c{channels}_`` and the layers' labels joined by ``-`` (``c40_k5e3-k7e6``)."""

    channels: int
    layers: tuple[LayerChoice, ...]

    @property
    def depth(self) -> int:
        return len(self.layers)

    def label(self) -> str:
        return f"c{self.channels}_" + "-".join(layer.label() for layer in self.layers)

    @classmethod
    def from_label(cls, label: str) -> StageChoice:
        m = _STAGE_RE.match(label)
        layers = [_LAYER_RE.match(part) for part in m["layers"].split("-")] if m else [None]
        if m is None or None in layers:
            raise LutnasError(
                f"{label!r} is not a stage label like c40_k5e3-k3e6-k7m200 "
                "(width, then each layer's kernel and expansion or mid width)"
            )
        try:
            return cls(
                channels=int(m["channels"]),
                layers=tuple(
                    LayerChoice(int(x["kernel"]), int(x["expansion"] or 0), int(x["mid"] or 0))
                    for x in layers
                ),
            )
        except LutnasError as exc:
            raise LutnasError(f"stage label {label!r}: {exc}") from None

    @functools.cached_property
    def segment_key(self) -> tuple:
        """The stage as a tuple of plain values (a cache key that hashes fast)."""
        return (self.channels, tuple((x.kernel, x.expansion, x.mid) for x in self.layers))

    def to_record(self) -> dict:
        return {"channels": self.channels, "layers": [x.to_record() for x in self.layers]}

    def layer_specs(self, space: ElasticSpace, stage: int, cin: int, hw: int) -> list[LayerSpec]:
        """The stage's layers in ``space`` taking ``cin`` channels at ``hw``×``hw``; only the
        first has the stage's stride."""
        out = []
        for j, layer in enumerate(self.layers):
            spec = space.stage_layer(
                stage,
                kernel=layer.kernel,
                mid=layer.mid_width(cin),
                cin=cin,
                cout=self.channels,
                stride=space.stages[stage].stride if j == 0 else 1,
                hw=hw,
            )
            out.append(spec)
            cin, hw = self.channels, spec.output_hw[0]
        return out


def layer_from_record(data: object, name: str) -> LayerChoice:
    """A layer record: ``{"kernel": k, "expansion": e}`` or ``{"kernel": k, "mid": width}``."""
    if isinstance(data, dict) and "mid" in data and "expansion" in data:
        raise LutnasError(f"{name}: give expansion or mid (an expanded width), not both")
    width = "mid" if isinstance(data, dict) and "mid" in data else "expansion"
    check_fields(data, name, ("kernel", width))
    kernel = whole_number(data["kernel"], f"{name}.kernel", 1, MAX_KERNEL, " (odd)")
    if kernel % 2 == 0:
        raise LutnasError(
            f"{name}.kernel must be a whole number from 1 to {MAX_KERNEL} (odd), got {kernel}"
        )
    if width == "mid":
        return LayerChoice(kernel, mid=whole_number(data["mid"], f"{name}.mid", 1, MAX_MID))
    return LayerChoice(
        kernel, whole_number(data["expansion"], f"{name}.expansion", 1, MAX_EXPANSION)
    )
