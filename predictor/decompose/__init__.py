"""An arbitrary torch module → the LayerSpecs of the LUT and the graph they form, found by
tracing (torch.fx).

Four passes over the traced graph (shapes from ``ShapeProp`` on a batch-1 input):

1. **Primitives** (:mod:`~predictor.decompose.primitives`). Every node becomes one primitive:
   conv, bn, act, gate (sigmoid / hard-sigmoid), linear, gpool (global average pool in any
   spelling), avgpool, maxpool, add, mul, concat, split (and its parts), shuffle; or a no-op
   (dropout, identity, stochastic depth, flatten/reshape), which costs nothing at inference and
   is listed in :attr:`Decomposition.ignored`. Anything else is an error that names the node: a
   part of a network is never silently dropped.
2. **Fusion** (:mod:`~predictor.decompose.fusion`). conv → bn → act becomes one unit,
   linear → act one unit, pool → 1×1 conv → act → 1×1 conv → gate → mul one SE unit, and an
   element-wise add / mul → act one unit.
3. **Residual blocks** (:mod:`~predictor.decompose.blocks`). An add of a main path that is one
   LUT op (mbconv, dconv, conv, ResNet's basic and bottleneck blocks) and a shortcut of its input
   (identity, 1×1 conv + BN, 3×3 average pool [→ 1×1 conv + BN]) becomes one layer with that
   skip; other adds stay element-wise layers of their own.
4. **Graph** (:mod:`~predictor.decompose.graph`, :mod:`~predictor.decompose.patterns`). The rest
   is cut into chains, each parsed into the LUT's ops longest first (mbconv, dconv, head, stem /
   conv, fcact, fc, then any conv, pool, global pool or shuffle on its own); adds, muls, concats
   and splits are layers of their own, and every layer records which layers it reads.

Every unit of the graph ends up in exactly one LayerSpec (:attr:`Decomposition.nodes` lists the
graph nodes of each, :attr:`Decomposition.members` the modules), and the layers rebuild the
network (:meth:`Decomposition.graph`, :func:`lut.network.build_network`) with the same
parameters and MACs, which the tests check for torchvision's mobile classification networks.
The units the passes share are in :mod:`~predictor.decompose.units`.
"""

from __future__ import annotations

from torch import nn

from predictor.decompose.blocks import find_blocks
from predictor.decompose.fusion import fuse, fuse_post_act, fuse_se
from predictor.decompose.graph import assemble
from predictor.decompose.patterns import Builder
from predictor.decompose.primitives import mapped_modules, primitives
from predictor.decompose.units import Decomposition

__all__ = ["Decomposition", "decompose_module", "mapped_modules"]


def decompose_module(
    module: nn.Module, input_shape: tuple[int, ...] = (1, 3, 224, 224)
) -> Decomposition:
    """The LayerSpecs of ``module`` for a batch-1 input of ``input_shape``, and their graph.

    Raises:
        LutnasError: tracing fails, or a part of the graph maps to no LayerSpec (named).
    """
    was_training = module.training
    module.eval()
    try:
        units, source, output, ignored, unused = primitives(module, tuple(input_shape))
    finally:
        module.train(was_training)
    for fusing in (fuse, fuse_se, fuse_post_act):
        renames = fusing(units) or {}
        output = renames.get(output, output)
    find_blocks(units, Builder(units, source))
    d = assemble(units, source, output, tuple(input_shape))
    d.ignored, d.unused = ignored, unused
    d.graph()  # every edge's shapes agree, or a LutnasError says where
    return d
