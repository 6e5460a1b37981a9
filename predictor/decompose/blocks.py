"""Pass 3a, residual blocks: an add of a main path and a shortcut of one input becomes one unit.

For each residual add (its two operands of one shape), the main path is followed back from one
operand through units that each have one input and one reader, to the block input X. The other
operand must be X itself (``idskip``), a 1×1 conv + BN of X with the block's stride
(``convskip``: ResNet's downsample, RegNet's projection), or a 3×3 average pool of X with the
block's stride, padding 1, not counting padding, [→ 1×1 conv + BN] (``poolskip``). When the
main path is one op (:func:`block_op`: an op of :mod:`~predictor.decompose.patterns`, or
ResNet's ``basic`` and ``bottleneck``), the main path,
the shortcut and the add (with the activation after it: ``_post``) become one ``block`` unit
holding that LayerSpec. Anything else stays as it is, and the add becomes an element-wise
``add`` layer of its own (:mod:`~predictor.decompose.graph`).
"""

from __future__ import annotations

from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from predictor.decompose.patterns import Builder
from predictor.decompose.unit_checks import bn, conv_ok, is_1x1, is_conv_act, pair, se_at
from predictor.decompose.units import Unit, users

_PATH_KINDS = ("conv", "se", "gpool", "avgpool", "maxpool", "linear", "shuffle")


def _back_to_fork(
    units: dict[str, Unit], readers: dict[str, list[str]], end: str, limit: int
) -> tuple[list[Unit], str] | None:
    """The units from the block input to ``end`` (each one input, one reader) and that input;
    None when the path does not reach a unit read elsewhere within ``limit`` steps."""
    path: list[Unit] = []
    cur = end
    while len(path) < limit:
        u = units[cur]
        if u.kind not in _PATH_KINDS or len(u.inputs) != 1 or len(readers[cur]) != 1:
            return None
        path.insert(0, u)
        cur = u.inputs[0]
        if len(readers[cur]) > 1:
            return path, cur
    return None


def _shortcut_kind(short: list[Unit], stride: int, cin: int, cout: int) -> str | None:
    """The skip a shortcut path computes, or None when it is none of the LUT's."""
    if not short:
        return "idskip"
    first = short[0]
    if len(short) == 1 and is_1x1(first, False, stride):
        return "convskip"
    if first.kind != "avgpool":
        return None
    window = tuple(pair(first.attrs[n]) for n in ("k", "stride", "padding"))
    if window != ((3, 3), (stride, stride), (1, 1)) or first.attrs["ceil"]:
        return None
    if first.attrs["countpad"]:
        return None
    widths_differ = cin != cout
    if len(short) == 1 + widths_differ and (not widths_differ or is_1x1(short[1], False)):
        return "poolskip"
    return None


def find_blocks(units: dict[str, Unit], builder: Builder) -> None:
    """Replace every residual block that is one LUT layer by a ``block`` unit (in place)."""
    for name in list(units):
        add = units.get(name)
        if add is None or add.kind != "add" or len(add.inputs) != 2:
            continue
        readers = users(units)
        for main_end, short_end in (add.inputs, add.inputs[::-1]):
            block = _block(units, readers, builder, add, main_end, short_end)
            if block is not None:
                spec, gone = block
                members = [m for u in [*gone, add] for m in u.members]
                nodes = [n for u in [*gone, add] for n in u.nodes]
                x = gone[0].inputs[0]
                for u in gone:
                    del units[u.name]
                units[add.name] = Unit(
                    add.name, "block", [x], add.shape, members, {"spec": spec}, nodes
                )
                break


def _block(
    units: dict[str, Unit],
    readers: dict[str, list[str]],
    builder: Builder,
    add: Unit,
    main_end: str,
    short_end: str,
) -> tuple[LayerSpec, list[Unit]] | None:
    """(the block's LayerSpec, its main and shortcut units) for this reading of the add."""
    found = _back_to_fork(units, readers, main_end, limit=8)
    if found is None:
        return None
    main, x = found
    short: list[Unit] = []
    if short_end != x:
        back = _back_to_fork(units, readers, short_end, limit=2)
        if back is None or back[1] != x:
            return None
        short = back[0]
    spec = block_op(builder, main)
    if spec is None:
        return None
    kind = _shortcut_kind(short, spec.stride, spec.cin, spec.cout)
    if kind is None:
        return None
    try:
        spec = LayerSpec(**{**spec.to_dict(), "skip": kind, "post": add.attrs.get("act") or ""})
    except LutnasError:  # e.g. an identity skip the LayerSpec refuses
        return None
    return spec, main + short


def block_op(builder: Builder, chain: list[Unit]) -> LayerSpec | None:
    """The one op computing all of ``chain``, a residual block's main path (before its
    skip is added), or None."""
    found = builder.match(chain, 0) if chain else None
    if found is not None and found[1] == len(chain) and found[0].op in ("conv", "dconv", "mbconv"):
        return found[0]
    if len(chain) == 2:
        return _basic(builder, chain)
    if len(chain) in (3, 4):
        return _bottleneck(builder, chain)
    return None


def _basic(builder: Builder, u: list[Unit]) -> LayerSpec | None:
    """k×k conv-act (stride), k×k conv."""
    a, b = u
    if not (is_conv_act(a) and bn(b) and conv_ok(b) and not b.attrs.get("act")):
        return None
    if b.attrs["groups"] != 1 or pair(b.attrs["stride"]) != (1, 1):
        return None
    k = pair(a.attrs["k"])[0]
    if pair(b.attrs["k"])[0] != k or b.attrs["cin"] != b.attrs["cout"]:
        return None
    return builder.spec(
        "basic",
        a,
        b,
        kernel=k,
        act=a.attrs["act"],
        cin=a.attrs["cin"],
        cout=b.attrs["cout"],
        stride=pair(a.attrs["stride"])[0],
        skip="convskip",  # a block always has a skip; blocks.py puts in the one it has
    )


def _bottleneck(builder: Builder, u: list[Unit]) -> LayerSpec | None:
    """1x1 conv-act, k×k conv-act (stride, groups), [SE], 1x1 conv."""
    se = se_at(u, 2)
    if len(u) != (4 if se else 3):
        return None
    a, b, c = u[0], u[1], u[-1]
    if not (is_1x1(a, True) and bn(b) and conv_ok(b) and is_1x1(c, False)):
        return None
    if b.attrs.get("act") != a.attrs["act"]:
        return None
    mid = a.attrs["cout"]
    if b.attrs["cin"] != mid or b.attrs["cout"] != mid:
        return None
    return builder.spec(
        "bottleneck",
        a,
        c,
        kernel=pair(b.attrs["k"])[0],
        expansion=max(1, round(mid / a.attrs["cin"])),
        act=a.attrs["act"],
        cin=a.attrs["cin"],
        cout=c.attrs["cout"],
        stride=pair(b.attrs["stride"])[0],
        se=se,
        mid=mid,
        groups=b.attrs["groups"],
        skip="convskip",  # a block always has a skip; blocks.py puts in the one it has
    )
