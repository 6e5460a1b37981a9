"""The two kinds of workload lutnas times: one layer of a LUT, and a whole architecture.

Their builders are module-level functions bound with :func:`functools.partial`, so a workload
pickles and a worker process can build it too (:mod:`profiler.prepare` makes model files
ahead of the timing process).
"""

from __future__ import annotations

from functools import partial

from lut.spec import LayerSpec
from profiler.base import Workload


def _build_layer(spec: LayerSpec):
    from lut.modules import build_layer  # torch loads only when something is measured

    return build_layer(spec)


def _build_arch(arch):
    return arch.build().eval()


def layer_workload(spec: LayerSpec) -> Workload:
    """One LUT row: the layer ``spec`` describes, with random weights."""
    return Workload(spec.key, partial(_build_layer, spec), spec.input_shape, spec.input_shapes[1:])


def arch_workload(arch) -> Workload:
    """A whole :class:`lutnas.spaces.arch.Arch` (random weights), keyed by the arch's key."""
    return Workload(arch.key, partial(_build_arch, arch), arch.input_shape)
