"""What one fused unit is, from its attributes: the tests the op patterns
(:mod:`~predictor.decompose.patterns`) and residual blocks (:mod:`~predictor.decompose.blocks`)
are built of: a conv + BN, a depthwise or pointwise one, a k×k conv-act the LUT's LayerSpec can
describe (square, padding k // 2, no dilation), an SE unit at a place in a run.
"""

from __future__ import annotations

from predictor.decompose.units import Unit


def pair(v: object) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def square(v: object) -> int | None:
    a, b = pair(v)
    return a if a == b else None


def bn(u: Unit) -> bool:
    """A conv followed by BN, without a bias of its own, and not gated."""
    return (
        u.kind == "conv"
        and bool(u.attrs.get("bn"))
        and not u.attrs["bias"]
        and not u.attrs.get("gate")
    )


def is_dw(u: Unit) -> bool:
    return (
        bn(u) and u.attrs["groups"] == u.attrs["cin"] == u.attrs["cout"] and u.attrs["groups"] > 1
    )


def is_1x1(u: Unit, act: bool, stride: int = 1) -> bool:
    """A pointwise conv + BN with ``stride``, with an activation iff ``act``, no padding."""
    return (
        bn(u)
        and pair(u.attrs["k"]) == (1, 1)
        and u.attrs["groups"] == 1
        and pair(u.attrs["stride"]) == (stride, stride)
        and pair(u.attrs["padding"]) == (0, 0)
        and bool(u.attrs.get("act")) == act
    )


def conv_ok(c: Unit) -> bool:
    """A square conv with square stride, padding k // 2, no dilation."""
    k = square(c.attrs["k"])
    return (
        k is not None
        and k % 2 == 1
        and pair(c.attrs["dilation"]) == (1, 1)
        and pair(c.attrs["padding"]) == (k // 2, k // 2)
        and square(c.attrs["stride"]) is not None
    )


def is_conv_act(u: Unit) -> bool:
    return bn(u) and u.attrs["groups"] == 1 and conv_ok(u) and bool(u.attrs.get("act"))


def hw(shape: tuple[int, ...]) -> tuple[int, int]:
    return (shape[2], shape[3]) if len(shape) == 4 else (1, 1)


def se_at(u: list[Unit], j: int) -> Unit | None:
    """``u[j]`` when it is an SE unit, else None."""
    return u[j] if j < len(u) and u[j].kind == "se" else None
