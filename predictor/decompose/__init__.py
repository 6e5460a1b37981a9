"""An arbitrary torch module → the LayerSpecs of the LUT, found by tracing (torch.fx).

Three passes over the traced graph (shapes from ``ShapeProp`` on a batch-1 input):

1. **Primitives** (:mod:`~predictor.decompose.primitives`). Every node becomes one primitive:
   conv, bn, act, gate (sigmoid / hard-sigmoid), linear, gpool (global average pool in any
   spelling), avgpool, add, mul; or a no-op (dropout, identity, stochastic depth,
   flatten/reshape), which costs nothing at inference and is listed in
   :attr:`Decomposition.ignored`. Anything else is an error that names the node: a part of a
   network is never silently dropped.
2. **Fusion** (:mod:`~predictor.decompose.fusion`). conv → bn → act becomes one unit,
   linear → act one unit, and pool → 1×1 conv → act → 1×1 conv → gate → mul one SE unit.
3. **Blocks** (:mod:`~predictor.decompose.walk`, :mod:`~predictor.decompose.patterns`).
   Walking the main path from the input, runs of units are matched to the LUT's ops (longest
   first): mbconv = 1×1 conv-act, depthwise conv-act, [SE], 1×1 conv; dconv = depthwise
   conv-act, [SE], 1×1 conv; head = 1×1 conv-act, global pool; stem / conv = k×k conv-act
   [SE]; fcact = linear-act; fc = linear. A residual add whose other operand is the block input
   (identity) or an average pool of it [→ 1×1 conv] (pool skip) becomes the skip of the single
   block it spans.

Every unit of the graph ends up in exactly one LayerSpec (:attr:`Decomposition.members` lists
the module names and graph nodes of each), which the tests check for torchvision's MNASNets,
MobileNetV2/V3 and EfficientNet-B0. The units the passes share are in
:mod:`~predictor.decompose.units`.
"""

from __future__ import annotations

from torch import nn

from predictor.decompose.fusion import fuse, fuse_se
from predictor.decompose.primitives import mapped_modules, primitives
from predictor.decompose.units import Decomposition
from predictor.decompose.walk import walk

__all__ = ["Decomposition", "decompose_module", "mapped_modules"]


def decompose_module(
    module: nn.Module, input_shape: tuple[int, ...] = (1, 3, 224, 224)
) -> Decomposition:
    """The LayerSpecs of ``module`` for a batch-1 input of ``input_shape``.

    Raises:
        LutnasError: tracing fails, or a part of the graph maps to no LayerSpec (named).
    """
    was_training = module.training
    module.eval()
    try:
        units, source, output, ignored = primitives(module, tuple(input_shape))
    finally:
        module.train(was_training)
    renames = fuse(units)
    output = renames.get(output, output)
    fuse_se(units)
    specs, members = walk(units, source, output)
    return Decomposition(specs, members, ignored)
