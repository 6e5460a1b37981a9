"""``Arch``: one architecture of a search space, immutable, with JSON and token forms.

An ``Arch`` stores concrete values (channels, not multipliers; expanded widths where they are
not a grid ratio), so networks slightly off a space's grid — MnasNet-A1's 112-wide stage,
MobileNetV3-Large's 200-wide expansion — are still expressible; membership of the space's grid
is checked by :meth:`Arch.problems` and required only for tokens. The block type, JSON record
and token layout are the space's (:class:`lutnas.spaces.base.Space`).
"""

from __future__ import annotations

import hashlib
import json
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from lutnas.spaces.arch_record import check_record
from lutnas.spaces.blocks import BlockChoice
from lutnas.spaces.elastic_blocks import LayerChoice, StageChoice
from lutnas.spaces.registry import is_builtin
from lutnas.spaces.space import Space, get_space

__all__ = ["Arch", "BlockChoice", "LayerChoice", "StageChoice"]

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class Arch:
    """One architecture: a space name, an input resolution and one block per stage, of the
    space's block type (:class:`BlockChoice` in mnasnet, :class:`StageChoice` in mobilenetv3)."""

    space: str
    resolution: int
    blocks: tuple[BlockChoice, ...]

    def __post_init__(self) -> None:
        space = get_space(self.space)
        space.check_resolution(self.resolution)
        space.check_blocks(self.blocks)
        object.__setattr__(self, "blocks", space.canonical_blocks(self.blocks))
        self.layers()  # every layer must be a valid LayerSpec; raises LutnasError otherwise

    @property
    def space_obj(self) -> Space:
        return get_space(self.space)

    def __reduce__(self) -> tuple:
        """Pickled for another process (search workers, Ray), an architecture of a space from a
        file carries the space's definition, which the receiving process registers; a built-in
        space is known there already."""
        space = get_space(self.space)
        definition = None if is_builtin(space) else space.definition()
        return (_unpickle, (definition, self.space, self.resolution, self.blocks))

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
            "blocks": [b.to_record() for b in self.blocks],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> Arch:
        """The architecture of a record like :meth:`to_dict`'s, every field checked
        (:func:`lutnas.spaces.arch_record.check_record`).

        Raises:
            LutnasError: naming the field, its accepted type and range, and the value given.
        """
        space, resolution, blocks = check_record(data)
        return cls(space, resolution, blocks)

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
            out += space.block_problems(i, b)
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
        space = self.space_obj
        values = space.token_values(self.resolution, self.blocks)
        return [d.choices.index(v) for d, v in zip(space.decisions(), values, strict=True)]

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
            try:
                index = operator.index(t)  # ints and numpy ints; not 1.7, not "1"
            except TypeError:
                index = None
            if index is None or isinstance(t, bool) or not 0 <= index < len(d.choices):
                raise LutnasError(
                    f"token {t!r} out of range for {d.name} ({len(d.choices)} choices)"
                )
            values.append(d.choices[index])
        return cls(space_name, values[0], space.blocks_from_values(values))

    # --- layers and module ---------------------------------------------------------------
    def layers(self, num_classes: int | None = None) -> list[LayerSpec]:
        """The network as LUT layers: stem, every layer of every stage, head, classifier.

        An identity skip on a layer whose shape changes (a stage's first layer with a stride
        or a new width) is dropped, i.e. that layer is ``noskip``.
        """
        return get_space(self.space).network_layers(self.resolution, self.blocks, num_classes)

    def build(self, num_classes: int | None = None) -> nn.Module:
        """A trainable module (train mode) taking ``(N, 3, resolution, resolution)`` input."""
        from torch import nn

        from lut.modules import build_layer

        return nn.Sequential(*(build_layer(s).train() for s in self.layers(num_classes)))

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, self.resolution, self.resolution)


def _unpickle(definition: dict | None, space: str, resolution: int, blocks: tuple) -> Arch:
    if definition is not None:
        from lutnas.spaces.stored import adopt_definitions

        adopt_definitions({space: definition}, "the process that sent this architecture")
    return Arch(space, resolution, blocks)
