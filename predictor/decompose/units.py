"""The graph the passes share: fused pieces (:class:`Unit`), who reads whom, and the result.

A unit is named after one of its graph nodes and lists the module qualified names / graph nodes
it stands for (its members); passes merge units and rewire ``inputs``, never lose members.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lut.spec import LayerSpec


@dataclass
class Unit:
    """A fused piece of the graph."""

    name: str
    kind: str  # conv | bn | act | gate | linear | gpool | avgpool | add | mul | se | input
    inputs: list[str]
    shape: tuple[int, ...]
    members: list[str]
    attrs: dict = field(default_factory=dict)


@dataclass
class Decomposition:
    """The module's layers, what each is made of, and what was ignored as free.

    Attributes:
        specs: the layers in execution order.
        members: for each spec, the module qualified names / graph nodes it covers.
        ignored: no-op nodes (dropout, identity, stochastic depth, reshapes).
    """

    specs: list[LayerSpec]
    members: list[list[str]]
    ignored: list[str]

    def covered(self) -> set[str]:
        return {m for ms in self.members for m in ms}


def users(units: dict[str, Unit]) -> dict[str, list[str]]:
    """For each unit, the units that read its output (in graph order)."""
    out: dict[str, list[str]] = {n: [] for n in units}
    for u in units.values():
        for i in u.inputs:
            out[i].append(u.name)
    return out
