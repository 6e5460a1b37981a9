"""The graph the passes share: fused pieces (:class:`Unit`), who reads whom, and the result.

A unit is named after one of its graph nodes and lists the module qualified names / graph nodes
it stands for (its members); passes merge units and rewire ``inputs``, never lose members.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lut.network import Source, SpecGraph
from lut.spec import LayerSpec


@dataclass
class Unit:
    """A fused piece of the graph.

    ``kind``: input | conv | bn | act | gate | linear | gpool | avgpool | maxpool | add | mul |
    se | concat | split | part (one output of a split) | shuffle | block (a residual block,
    its LayerSpec in ``attrs["spec"]``). ``members``: module qualified names (graph node names
    for functions); ``nodes``: the graph nodes themselves.
    """

    name: str
    kind: str
    inputs: list[str]
    shape: tuple[int, ...]
    members: list[str]
    attrs: dict = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)


@dataclass
class Decomposition:
    """The module's layers, what each is made of, and what was ignored as free.

    Attributes:
        specs: the layers in execution order.
        members: for each spec, the module qualified names / graph nodes it covers (a module
            called twice, like ResNet's shared ReLU, is listed where each call is).
        ignored: no-op nodes (dropout, identity, stochastic depth, reshapes).
        nodes: for each spec, the traced graph nodes it covers (each computing node of the
            graph is in exactly one spec, or ignored).
        inputs: for each spec, where each of its inputs comes from (see :mod:`lut.network`).
        output: where the network's output comes from.
        input_shape: the network's input shape.
        unused: modules the traced network never calls (GoogLeNet's training-only auxiliary
            classifiers): no layer of the network at inference.
    """

    specs: list[LayerSpec]
    members: list[list[str]]
    ignored: list[str]
    nodes: list[list[str]] = field(default_factory=list)
    inputs: list[tuple[Source, ...]] = field(default_factory=list)
    output: Source = (-1, 0)
    input_shape: tuple[int, ...] = ()
    unused: list[str] = field(default_factory=list)

    def covered(self) -> set[str]:
        return {m for ms in self.members for m in ms}

    def graph(self) -> SpecGraph:
        """The layers as a :class:`~lut.network.SpecGraph` (which checks every edge's shape)."""
        return SpecGraph(tuple(self.specs), tuple(self.inputs), self.output, self.input_shape)


def users(units: dict[str, Unit]) -> dict[str, list[str]]:
    """For each unit, the units that read its output (in graph order)."""
    out: dict[str, list[str]] = {n: [] for n in units}
    for u in units.values():
        for i in u.inputs:
            out[i].append(u.name)
    return out
