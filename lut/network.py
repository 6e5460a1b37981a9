"""A network as a graph of LUT layers: which layer reads which, and the torch module it builds.

A :class:`SpecGraph` lists layers in execution order and, for each, where each of its inputs
comes from: ``(producer, output)``, the producer a layer index or :data:`NETWORK_INPUT`, the
output an index into the producer's outputs (a split has several). A chain is the special case
where every layer reads the one before. :func:`build_network` turns a graph into one module of
the layers' own modules (:func:`lut.modules.build_layer`), so a decomposed network can be timed
whole by a backend whose exporter writes only lutnas's layers (LiteRT, a phone's
``benchmark_model``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from lut.spec import LayerSpec
from lutnas.errors import LutnasError

NETWORK_INPUT = -1
Source = tuple[int, int]  # (producer layer or NETWORK_INPUT, its output index)


def _same_values(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Shapes holding the same tensor: equal, or a vector and its 1×1 map (1, C) ~ (1, C, 1, 1)."""
    return a == b or (a[:2] == b[:2] and all(d == 1 for d in a[2:] + b[2:]))


@dataclass(frozen=True)
class SpecGraph:
    """Layers in execution order, each with the sources of its inputs, and the network output.

    Attributes:
        specs: the layers, producers before readers.
        inputs: for each layer, one :data:`Source` per input (``spec.input_shapes``).
        output: the source of the network's output.
        input_shape: the network's batch-1 input shape.
    """

    specs: tuple[LayerSpec, ...]
    inputs: tuple[tuple[Source, ...], ...]
    output: Source
    input_shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.specs) != len(self.inputs) or not self.specs:
            raise LutnasError("a SpecGraph needs one input list per layer and at least one layer")
        for i, (spec, sources) in enumerate(zip(self.specs, self.inputs, strict=True)):
            if len(sources) != len(spec.input_shapes):
                raise LutnasError(
                    f"layer {i} ({spec.key}) takes {len(spec.input_shapes)} inputs, "
                    f"{len(sources)} given"
                )
            for (producer, out), want in zip(sources, spec.input_shapes, strict=True):
                if not NETWORK_INPUT <= producer < i:
                    raise LutnasError(
                        f"layer {i} ({spec.key}) reads layer {producer}, not before it"
                    )
                have = self.shape_of((producer, out))
                if not _same_values(have, want):
                    raise LutnasError(
                        f"layer {i} ({spec.key}) expects {want} from "
                        f"{self._name(producer)}, which gives {have}"
                    )
        self.shape_of(self.output)

    @classmethod
    def chain(cls, specs: Sequence[LayerSpec]) -> SpecGraph:
        """Every layer reads the one before; the network input is the first layer's."""
        specs = tuple(specs)
        if not specs:
            raise LutnasError("a network needs at least one layer")
        inputs = tuple(((i - 1, 0),) for i in range(len(specs)))
        return cls(specs, inputs, (len(specs) - 1, 0), specs[0].input_shape)

    def shape_of(self, source: Source) -> tuple[int, ...]:
        producer, out = source
        shapes = (self.input_shape,) if producer == NETWORK_INPUT else None
        if shapes is None:
            shapes = self.specs[producer].output_shapes
        if not 0 <= out < len(shapes):
            raise LutnasError(f"{self._name(producer)} has no output {out}")
        return shapes[out]

    def _name(self, producer: int) -> str:
        if producer == NETWORK_INPUT:
            return "the network input"
        return f"layer {producer} ({self.specs[producer].key})"

    def readers(self) -> list[int]:
        """How many inputs read each layer's outputs (plus one for the network output)."""
        counts = [0] * len(self.specs)
        for sources in self.inputs:
            for producer, _ in sources:
                if producer != NETWORK_INPUT:
                    counts[producer] += 1
        if self.output[0] != NETWORK_INPUT:
            counts[self.output[0]] += 1
        return counts


class GraphNet(nn.Module):
    """The module of a :class:`SpecGraph`: each layer's module run in order on its sources.

    Attributes:
        units: the layers' modules, in order.
        graph: the graph they come from.
    """

    def __init__(self, graph: SpecGraph, units: Sequence[nn.Module]) -> None:
        super().__init__()
        self.graph = graph
        self.units = nn.ModuleList(units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs: dict[int, tuple[torch.Tensor, ...]] = {NETWORK_INPUT: (x,)}
        for i, (unit, spec) in enumerate(zip(self.units, self.graph.specs, strict=True)):
            args = [
                _as_shape(outs[p][o], want)
                for (p, o), want in zip(self.graph.inputs[i], spec.input_shapes, strict=True)
            ]
            y = unit(*args)
            outs[i] = y if isinstance(y, tuple) else (y,)
        p, o = self.graph.output
        return outs[p][o]


def _as_shape(t: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """``t`` as ``shape`` where a vector meets a 1×1 map (a free reshape)."""
    return t if tuple(t.shape) == shape else t.reshape(shape)


def build_network(graph: SpecGraph) -> GraphNet:
    """The network of ``graph`` built from lutnas's layer modules, eval mode, random weights."""
    from lut.modules import build_layer

    return GraphNet(graph, [build_layer(s) for s in graph.specs]).eval()
