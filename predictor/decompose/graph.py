"""Pass 3b, the graph: every unit into exactly one LayerSpec, and which layer reads which.

After :mod:`~predictor.decompose.blocks` has made residual blocks single units, the graph is cut
into chains: runs of units where each is the only reader of the one before and reads nothing
else. A chain is parsed into ops, longest first (:class:`~predictor.decompose.patterns.Builder`);
a residual block is its own layer, and so are the units that join or fork the graph: an
element-wise ``add`` / ``mul`` of two tensors (with the activation after it), a ``concat`` of
several, a ``split`` into several (each part read by whoever reads it). The layers come out in
graph order, each with the sources of its inputs (:class:`lut.network.SpecGraph`).
"""

from __future__ import annotations

from lut.network import NETWORK_INPUT, Source
from lut.spec import NO_ACT, LayerSpec
from lutnas.errors import LutnasError
from predictor.decompose.patterns import Builder
from predictor.decompose.units import Decomposition, Unit, users

_CHAINABLE = ("conv", "se", "gpool", "avgpool", "maxpool", "linear", "shuffle")


def _chains(units: dict[str, Unit], readers: dict[str, list[str]], source: str) -> list[list[Unit]]:
    """The chainable units cut into maximal chains, in graph order."""
    chains: list[list[Unit]] = []
    tail: dict[str, list[Unit]] = {}  # last unit of a chain -> the chain
    for u in units.values():
        if u.kind not in _CHAINABLE:
            continue
        prev = u.inputs[0] if len(u.inputs) == 1 else None
        if prev is not None and prev != source and prev in tail and len(readers[prev]) == 1:
            chain = tail.pop(prev)
            chain.append(u)
        else:
            chain = [u]
            chains.append(chain)
        tail[u.name] = chain
    return chains


def _join_spec(builder: Builder, u: Unit, units: dict[str, Unit]) -> LayerSpec:
    """The LayerSpec of an add, mul, concat or split unit."""
    shapes = [units[i].shape for i in u.inputs]
    if u.kind in ("add", "mul"):
        if len(shapes) != 2 or shapes[0] != shapes[1] or len(shapes[0]) != 4:
            raise LutnasError(
                f"cannot map {u.kind} {u.name} of {shapes} to a LUT layer: element-wise "
                "layers take two (1, C, H, W) tensors of one shape"
            )
        c = shapes[0][1]
        return builder.spec(u.kind, u, u, act=u.attrs.get("act") or NO_ACT, cin=c, cout=c)
    if u.kind == "concat":
        if any(len(s) != 4 or s[2:] != shapes[0][2:] for s in shapes) or len(shapes) < 2:
            raise LutnasError(f"cannot map concat {u.name} of {shapes} to a LUT layer")
        parts = tuple(s[1] for s in shapes)
        return builder.spec(
            "concat", u, u, act=NO_ACT, cin=sum(parts), cout=sum(parts), parts=parts
        )
    parts = tuple(u.attrs["parts"])  # split
    c = sum(parts)
    spec = builder.spec("split", u, units[u.inputs[0]], act=NO_ACT, cin=c, cout=c, parts=parts)
    return spec


def assemble(
    units: dict[str, Unit], source: str, output: str, input_shape: tuple[int, ...]
) -> Decomposition:
    """Every unit into one LayerSpec, in graph order, with its input sources.

    Raises:
        LutnasError: a part of the graph maps to no LayerSpec (named).
    """
    builder = Builder(units, source)
    readers = users(units)
    position = {name: i for i, name in enumerate(units)}
    pieces: list[tuple[LayerSpec, list[Unit]]] = []
    for chain in _chains(units, readers, source):
        pieces += builder.parse(chain)
    for u in units.values():
        if u.kind == "part":  # picking an output of a split is part of the split
            units[u.inputs[0]].nodes.extend(u.nodes)
    for u in units.values():
        if u.kind == "block":
            pieces.append((u.attrs["spec"], [u]))
        elif u.kind in ("add", "mul", "concat", "split"):
            pieces.append((_join_spec(builder, u, units), [u]))
        elif u.kind in ("bn", "act", "gate"):
            raise LutnasError(
                f"cannot map {u.kind} {u.name} ({', '.join(u.members)}) to a LUT layer: "
                "BN, activations and gates are mapped after a conv, a linear layer or an "
                "element-wise add / mul (or inside squeeze-and-excite)"
            )
    pieces.sort(key=lambda p: min(position[u.name] for u in p[1]))
    layer_of: dict[str, Source] = {}
    for i, (_, us) in enumerate(pieces):
        layer_of[us[-1].name] = (i, 0)
    for u in units.values():  # a split's parts: its outputs
        if u.kind == "part":
            layer_of[u.name] = (layer_of[u.inputs[0]][0], u.attrs["index"])
    layer_of[source] = (NETWORK_INPUT, 0)

    def sources(us: list[Unit]) -> tuple[Source, ...]:
        inside = {u.name for u in us}
        outside = [i for u in us for i in u.inputs if i not in inside]
        return tuple(layer_of[i] for i in outside)

    if output not in layer_of:
        raise LutnasError(f"the network output {output} is inside a layer")
    return Decomposition(
        specs=[s for s, _ in pieces],
        members=[[m for u in us for m in u.members] for _, us in pieces],
        ignored=[],
        nodes=[[n for u in us for n in u.nodes] for _, us in pieces],
        inputs=[sources(us) for _, us in pieces],
        output=layer_of[output],
        input_shape=tuple(input_shape),
    )
