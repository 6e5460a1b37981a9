"""torchvision's networks as LUT layers: decomposed once per process and resolution.

The network is built on the meta device (shapes only: nothing computed, nothing downloaded)
and decomposed by :mod:`predictor.decompose`; its layers and their graph are what a prediction
sums, what ``profile-device`` profiles for it, and what a backend whose exporter writes only
lutnas's layers times as the whole network (:func:`lut.network.build_network`).
"""

from __future__ import annotations

import functools

from lut.network import SpecGraph
from lut.spec import LayerSpec


@functools.lru_cache(maxsize=64)
def torchvision_graph(name: str, resolution: int = 224) -> SpecGraph:
    """The layers of the torchvision network ``name`` at ``resolution`` and which reads which.

    Raises:
        LutnasError: torchvision has no such model, or a part of it maps to no LUT layer.
    """
    from predictor.decompose import decompose_module
    from profiler.torchvision_nets import build_network

    model = build_network(name, device="meta")
    return decompose_module(model, (1, 3, resolution, resolution)).graph()


def torchvision_layers(name: str, resolution: int = 224) -> list[LayerSpec]:
    """The LUT rows of the torchvision network ``name`` (random weights) at ``resolution``."""
    return list(torchvision_graph(name, resolution).specs)
