"""The base network's table of a layer-wise space (:class:`~lutnas.spaces.elastic.ElasticSpace`):
each stage's width, stride, SE and activation and the choices its layers take
(:class:`ElasticStage`), and the fixed first block after the stem (:class:`FirstBlock`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, kw_only=True)
class ElasticStage:
    """One row of the base network's stage table and the choices its layers take."""

    channels: int
    stride: int  # of the stage's first layer
    se: bool
    act: str  # one of lut.spec.ACTS
    depths: tuple[int, ...]
    kernels: tuple[int, ...]
    expansions: tuple[int, ...]
    zero: bool = False  # a layer after the first may be skipped (ProxylessNAS's zero op)

    @property
    def slots(self) -> int:
        """Layer positions with tokens: the deepest depth."""
        return max(self.depths)

    def reachable(self, depth: int) -> bool:
        """Whether a stage of ``depth`` layers is in the space (zero layers shorten a depth)."""
        return depth in self.depths or (self.zero and 1 <= depth <= self.slots)

    def token_depth(self, depth: int) -> int:
        """The depth token of a stage of ``depth`` layers: itself, or with zero layers the
        smallest depth choice that holds it (its trailing slots are zero)."""
        if depth in self.depths or not self.zero:
            return depth
        return min(d for d in self.depths if d >= depth)

    def definition(self) -> dict:
        return _plain(self)


@dataclass(frozen=True, kw_only=True)
class FirstBlock:
    """The fixed block between the stem and the first stage: depthwise k×k → act → [SE] →
    pointwise 1×1, with a residual where shapes match (MobileNetV3's first block,
    ProxylessNAS's MBConv1)."""

    channels: int
    kernel: int = 3
    stride: int = 1
    act: str = "relu"
    se: bool = False

    def definition(self) -> dict:
        return _plain(self)


def _plain(row: object) -> dict:
    """A table row's fields as plain data (tuples as lists), as a definition stores them."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(row).items()}
