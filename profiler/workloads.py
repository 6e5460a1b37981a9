"""The two kinds of workload lutnas times: one layer of a LUT, and a whole architecture.

Their builders are module-level functions bound with :func:`functools.partial`, so a workload
pickles and a worker process can build it too (:mod:`profiler.prepare` makes model files
ahead of the timing process). Their random weights are drawn from a generator seeded by the
workload's key, so a workload is the same network in every process and every run: its exported
file is reproducible, and an int8 file that fails its quality check
(:func:`profiler.tflite.int8.check_int8`) fails it every time rather than now and then.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from functools import partial

from lut.spec import LayerSpec
from profiler.base import Workload


def _seeded(key: str, build: Callable[[], object]):
    """``build()`` with torch's random numbers seeded by ``key``; the caller's random state is
    left as it was."""
    import torch  # loads only when something is measured

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(zlib.crc32(key.encode()))
        return build()


def _build_layer(spec: LayerSpec):
    from lut.modules import build_layer

    return _seeded(spec.key, partial(build_layer, spec))


def _build_arch(arch):
    return _seeded(arch.key, arch.build).eval()


def layer_workload(spec: LayerSpec) -> Workload:
    """One LUT row: the layer ``spec`` describes, with random weights."""
    return Workload(spec.key, partial(_build_layer, spec), spec.input_shape, spec.input_shapes[1:])


def arch_workload(arch) -> Workload:
    """A whole :class:`lutnas.spaces.arch.Arch` (random weights), keyed by the arch's key."""
    return Workload(arch.key, partial(_build_arch, arch), arch.input_shape)
