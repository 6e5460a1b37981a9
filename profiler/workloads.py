"""The two kinds of workload lutnas times: one layer of a LUT, and a whole architecture."""

from __future__ import annotations

from lut.spec import LayerSpec
from profiler.base import Workload


def layer_workload(spec: LayerSpec) -> Workload:
    """One LUT row: the layer ``spec`` describes, with random weights."""

    def build():
        from lut.modules import build_layer  # torch loads only when something is measured

        return build_layer(spec)

    return Workload(spec.key, build, spec.input_shape, spec.input_shapes[1:])


def arch_workload(arch) -> Workload:
    """A whole :class:`lutnas.spaces.arch.Arch` (random weights), keyed by the arch's key."""
    return Workload(arch.key, lambda: arch.build().eval(), arch.input_shape)
