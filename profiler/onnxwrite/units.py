"""The pooling and graph units of :mod:`lut.unit_modules`, and whole :class:`lut.network.GraphNet`
networks, written as the TorchScript exporter writes them (used by
:mod:`profiler.onnxwrite.convert`).

- ``nn.MaxPool2d`` → MaxPool (ceil_mode, dilations, kernel_shape, pads, strides).
- ``Eltwise`` → Add / Mul of the two inputs, then its activation.
- ``Concat`` → Concat along axis 1.
- ``ChannelSplit`` → Split along axis 1, the part sizes an int64 initializer, one output each.
- ``ChannelShuffle`` → Reshape to (1, g, C/g, H, W) → Transpose (0, 2, 1, 3, 4) → Reshape to
  (1, C, H, W); the target shapes int64 initializers, ``allowzero`` 0.
- ``GraphNet`` → each layer written on the tensors its sources hold, a Reshape where a vector
  meets a 1×1 map (the network's ``reshape``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from torch import nn

from lut.network import NETWORK_INPUT, GraphNet
from lut.unit_modules import ChannelShuffle, ChannelSplit, Concat, Eltwise
from profiler.onnxwrite.graph import UnknownModule, child, scope
from profiler.torch_rules import pair

if TYPE_CHECKING:
    from profiler.onnxwrite.convert import Writer


class UnitWriter:
    """Writes the unit module types (:data:`profiler.torch_rules.UNIT_METHODS`) into the
    writer's graph."""

    def __init__(self, writer: Writer) -> None:
        self.w = writer
        self.g = writer.g

    def maxpool(self, pool: nn.MaxPool2d, x: str, path: str) -> str:
        dilation = pair(pool.dilation)
        if pool.return_indices or dilation != (1, 1):
            raise UnknownModule(f"{path}: MaxPool2d with return_indices or dilation {dilation}")
        return self.w.pool("MaxPool", pool, x, path, dilations=list(dilation))

    def eltwise(self, m: Eltwise, xs: list[str], path: str) -> str:
        a, b = self._inputs(xs, 2, path)
        y = self.w.binary(m.kind.capitalize(), a, b, path)
        return y if m.act is None else self.w.write(m.act, y, child(path, "act"))

    def concat(self, m: Concat, xs: list[str], path: str) -> str:
        xs = list(xs) if isinstance(xs, list) else [xs]
        shapes = [self.g.shape(x) for x in xs]
        if any(len(s) != len(shapes[0]) or s[2:] != shapes[0][2:] for s in shapes):
            raise UnknownModule(f"{path}: concat of shapes {shapes} along channels")
        shape = (shapes[0][0], sum(s[1] for s in shapes), *shapes[0][2:])
        return self.g.op("Concat", xs, shape, scope(path), axis=1)

    def split(self, m: ChannelSplit, x: str, path: str) -> list[str]:
        shape = self.g.shape(x)
        if sum(m.parts) != shape[1]:
            raise UnknownModule(f"{path}: split into {m.parts} of {shape[1]} channels")
        sizes = self.g.constant(np.array(m.parts), path, np.int64)
        outs = [(shape[0], p, *shape[2:]) for p in m.parts]
        return self.g.multi_op("Split", [x, sizes], outs, scope(path), axis=1)

    def shuffle(self, m: ChannelShuffle, x: str, path: str) -> str:
        n, c, h, w = self.w.nchw(x, path)
        g = m.groups
        if c != m.channels or c % g or (h, w) != m.hw:
            raise UnknownModule(f"{path}: shuffle of {(c, h, w)} in {g} groups")
        y = self.reshape(x, (n, g, c // g, h, w), path)
        y = self.g.op("Transpose", [y], (n, c // g, g, h, w), scope(path), perm=[0, 2, 1, 3, 4])
        return self.reshape(y, (n, c, h, w), path)

    def graph_net(self, net: GraphNet, x: str, path: str) -> str:
        graph = net.graph
        outs: dict[int, list[str]] = {NETWORK_INPUT: [x]}
        for i, (unit, spec) in enumerate(zip(net.units, graph.specs, strict=True)):
            args = [
                self._as_shape(outs[p][o], want, path)
                for (p, o), want in zip(graph.inputs[i], spec.input_shapes, strict=True)
            ]
            at = child(path, f"units.{i}")
            y = self.w.write(unit, args if len(args) > 1 else args[0], at)
            outs[i] = list(y) if isinstance(y, list) else [y]
        p, o = graph.output
        return outs[p][o]

    # --- helpers ---------------------------------------------------------------------------
    def reshape(self, x: str, shape: tuple[int, ...], path: str) -> str:
        target = self.g.constant(np.array(shape), path, np.int64)
        return self.g.op("Reshape", [x, target], shape, scope(path), allowzero=0)

    def _inputs(self, xs: str | list[str], n: int, path: str) -> list[str]:
        xs = xs if isinstance(xs, list) else [xs]
        if len(xs) != n:
            raise UnknownModule(f"{path}: takes {n} inputs, got {len(xs)}")
        return xs

    def _as_shape(self, x: str, want: tuple[int, ...], path: str) -> str:
        """``x`` reshaped where a vector meets a 1×1 map, as the network's forward does."""
        return x if self.g.shape(x) == tuple(want) else self.reshape(x, tuple(want), path)
