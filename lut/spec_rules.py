"""What each op of :mod:`lut.spec` admits: the field rules a ``LayerSpec`` enforces, how its
optional fields are normalised, and its output size.

Kept apart from the key grammar so the grammar reads in one screen. :func:`normalised` runs
first (a default written out, or an option that changes nothing, becomes the default), then
:func:`problems` lists every rule the spec breaks; ``LayerSpec`` refuses a spec with any.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lut.spec import ACTS, ALL_OPS, GATES, NO_ACT, SKIPS

if TYPE_CHECKING:
    from lut.spec import LayerSpec

CONV_OPS = ("stem", "conv", "dconv", "mbconv", "basic", "bottleneck")  # odd kernels
POOLS = ("maxpool", "avgpool")
# ops without any activation, and ops whose activation may be ``none``
NO_ACT_OPS = ("maxpool", "avgpool", "gpool", "concat", "split", "shuffle")
ACT_OPTIONAL = ("conv", "add", "mul")
# ops that keep the width and act at kernel 1, stride 1
JOINS = ("gpool", "add", "mul", "concat", "split", "shuffle")
SKIPPABLE = ("conv", "dconv", "mbconv", "basic", "bottleneck")
BLOCKS = ("basic", "bottleneck")  # residual blocks: a skip is required
WITH_SE = ("conv", "dconv", "mbconv", "bottleneck")
WITH_MID = ("mbconv", "bottleneck")
WITH_PAD = ("stem", "conv", *POOLS)
VECTOR_OUT = ("head", "fc", "fcact", "gpool")


def pooled_size(size: int, kernel: int, stride: int, pad: int, ceil: bool) -> int:
    """torch's output size of a window ``kernel`` sliding by ``stride`` over ``size`` + 2 pad
    (with ``ceil``, the last window may start past the end but not inside the right padding)."""
    span = size + 2 * pad - kernel
    out = (math.ceil(span / stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def output_hw(spec: LayerSpec) -> tuple[int, int]:
    """Output height and width of ``spec`` (1×1 for ops whose output is a vector)."""
    if spec.op in VECTOR_OUT:
        return (1, 1)
    if spec.op in JOINS:
        return (spec.input_h, spec.input_w)
    k, s, p = spec.kernel, spec.stride, spec.padding
    return (
        pooled_size(spec.input_h, k, s, p, spec.ceil),
        pooled_size(spec.input_w, k, s, p, spec.ceil),
    )


def normalised(spec: LayerSpec) -> dict[str, object]:
    """The optional fields of ``spec`` that must be stored as their defaults."""
    out: dict[str, object] = {}
    if spec.mid and spec.mid == spec.cin * spec.expansion:
        out["mid"] = 0
    if spec.se_squeeze and spec.se_ratio and spec.se_squeeze == spec.default_squeeze():
        out["se_squeeze"] = 0
    if spec.se_gate and spec.se_gate == spec.default_gate():
        out["se_gate"] = ""
    if spec.groups == 1 and spec.op != "shuffle":
        out["groups"] = 0
    if spec.pad >= 0 and spec.pad == (spec.kernel - 1) // 2:
        out["pad"] = -1
    if not (spec.ceil or spec.countpad):
        return out
    pad = spec.padding
    if spec.ceil and spec.kernel >= 1 and spec.stride >= 1:
        sizes = (spec.input_h, spec.input_w)
        if all(
            pooled_size(n, spec.kernel, spec.stride, pad, True)
            == pooled_size(n, spec.kernel, spec.stride, pad, False)
            for n in sizes
        ):
            out["ceil"] = False
    if spec.countpad and pad == 0:
        out["countpad"] = False
    return out


def problems(spec: LayerSpec) -> list[str]:
    """Every rule ``spec`` breaks (empty: a valid layer)."""
    p: list[str] = []
    op = spec.op
    if op not in ALL_OPS:
        p.append(f"op {op!r} is not one of {ALL_OPS}")
    if spec.skip not in SKIPS:
        p.append(f"skip {spec.skip!r} is not one of {SKIPS}")
    p += _act_problems(spec)
    p += _shape_problems(spec)
    if spec.expansion < 1 or (op not in WITH_MID and spec.expansion != 1):
        p.append(f"expansion {spec.expansion} must be 1 for {op} (>= 1 for mbconv, bottleneck)")
    if not 0 <= spec.se_ratio < 1:
        p.append(f"se_ratio {spec.se_ratio} must be in [0, 1)")
    if spec.se_ratio and op not in WITH_SE:
        p.append(f"{op} takes no SE (only {', '.join(WITH_SE)})")
    if spec.skip != "noskip" and op not in SKIPPABLE:
        p.append(f"{op} takes no skip (only {', '.join(SKIPPABLE)})")
    if op in BLOCKS and spec.skip == "noskip":
        p.append(f"{op} is a residual block: it needs idskip, poolskip or convskip")
    if spec.skip == "idskip" and (spec.cin != spec.cout or spec.stride != 1):
        p.append(
            f"identity skip needs matching shapes (cin {spec.cin} vs cout {spec.cout}, "
            f"stride {spec.stride}); use noskip or poolskip"
        )
    p += _option_problems(spec)
    return p


def _act_problems(spec: LayerSpec) -> list[str]:
    p = []
    if spec.op in NO_ACT_OPS:
        if spec.act != NO_ACT:
            p.append(f"{spec.op} has no activation: its act must be {NO_ACT!r}")
    elif spec.act not in ACTS and not (spec.act == NO_ACT and spec.op in ACT_OPTIONAL):
        allowed = ACTS + ((NO_ACT,) if spec.op in ACT_OPTIONAL else ())
        p.append(f"act {spec.act!r} is not one of {allowed}")
    if spec.se_act not in ACTS:
        p.append(f"se_act {spec.se_act!r} is not one of {ACTS}")
    if spec.se_gate and spec.se_gate not in GATES:
        p.append(f"se_gate {spec.se_gate!r} is not one of {GATES}")
    if not spec.se_ratio and (spec.se_squeeze or spec.se_act != "relu" or spec.se_gate):
        p.append("SE options (squeeze, se_act, gate) need an se_ratio above 0")
    if spec.post and (spec.post not in ACTS or spec.skip == "noskip"):
        p.append(f"post activation {spec.post!r} needs a skip and one of {ACTS}")
    return p


def _shape_problems(spec: LayerSpec) -> list[str]:
    p = []
    op = spec.op
    if min(spec.cin, spec.cout, spec.stride, spec.input_h, spec.input_w, spec.kernel) < 1:
        return ["kernel, channels, stride and input size must be positive"]
    if op in CONV_OPS and spec.kernel % 2 == 0:
        p.append(f"kernel {spec.kernel} must be odd and positive")
    if op in ("head", "fc", "fcact", *JOINS) and (spec.kernel, spec.stride) != (1, 1):
        p.append(f"{op} must have kernel 1 and stride 1")
    if op in ("fc", "fcact") and (spec.input_h, spec.input_w) != (1, 1):
        p.append(f"{op} must have kernel 1, stride 1 and a 1x1 input")
    if op in (*POOLS, *JOINS) and spec.cin != spec.cout:
        p.append(f"{op} keeps the width: cin {spec.cin} must equal cout {spec.cout}")
    if op in POOLS and min(output_hw(spec)) < 1:
        p.append(f"a {spec.kernel}x{spec.kernel} window does not fit the input")
    return p


def _option_problems(spec: LayerSpec) -> list[str]:
    p = []
    op = spec.op
    if spec.mid:
        nominal = max(1, round(spec.mid / spec.cin))
        if op not in WITH_MID:
            p.append(f"mid (inner width) is only for {' and '.join(WITH_MID)}, not {op}")
        elif spec.expansion != nominal:
            p.append(
                f"with mid {spec.mid} the expansion must be round(mid / cin) "
                f"= {nominal}, not {spec.expansion}"
            )
    if spec.se_squeeze < 0 or spec.mid < 0 or spec.groups < 0:
        p.append("mid, se_squeeze and groups must not be negative")
    p += _group_problems(spec)
    if spec.pad >= 0 and (op not in WITH_PAD or spec.pad > spec.kernel // 2):
        p.append(
            f"padding {spec.pad} is for {', '.join(WITH_PAD)} only, at most kernel // 2 "
            f"(= {spec.kernel // 2})"
        )
    if spec.pad >= 0 and spec.skip != "noskip":
        p.append("a layer with a skip pads (kernel - 1) // 2")
    if spec.ceil and op != "maxpool":
        p.append("ceil (ceil_mode) is for maxpool only")
    if spec.countpad and op != "avgpool":
        p.append("countpad (count_include_pad) is for avgpool only")
    if not spec.bn and op not in ("stem", "conv"):
        p.append("nobn (a conv with a bias, no BN) is for stem and conv only")
    if op in ("concat", "split"):
        if len(spec.parts) < 2 or min(spec.parts) < 1 or sum(spec.parts) != spec.cin:
            p.append(f"{op} needs two or more parts summing to cin {spec.cin}, got {spec.parts}")
    elif spec.parts:
        p.append("parts are for concat and split only")
    return p


def _group_problems(spec: LayerSpec) -> list[str]:
    g, op = spec.groups, spec.op
    if not g:
        return ["shuffle needs groups (_g) of 2 or more"] if op == "shuffle" else []
    if op == "conv":
        ok = spec.cin % g == 0 and spec.cout % g == 0
    elif op == "bottleneck":
        ok = spec.mid_channels % g == 0
    elif op == "shuffle":
        ok = g >= 2 and spec.cin % g == 0
    else:
        return [f"groups are for conv, bottleneck and shuffle only, not {op}"]
    return [] if ok else [f"groups {g} must divide the channels of {op}"]
