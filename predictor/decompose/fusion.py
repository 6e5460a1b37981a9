"""Pass 2, fusion: merge primitives into the units LUT layers are made of.

conv → bn → act|gate becomes one conv unit (``attrs`` gain ``bn``, ``act``, ``gate``), linear →
act one linear unit, global pool → 1×1 conv-act → 1×1 conv-gate → mul(x, ·) one ``se`` unit, and
an element-wise add or mul → act one unit (``attrs["act"]``: ResNet's ReLU after the residual
add). A primitive is only fused into the one before it when that one has no other reader.
"""

from __future__ import annotations

from predictor.decompose.units import Unit, users


def _absorb(units: dict[str, Unit], keep: Unit, gone: Unit, renames: dict[str, str]) -> None:
    """Merge ``gone`` (the only user of ``keep``) into ``keep``."""
    renames[gone.name] = keep.name
    keep.members += gone.members
    keep.nodes += gone.nodes
    keep.shape = gone.shape
    for u in units.values():
        u.inputs = [keep.name if i == gone.name else i for i in u.inputs]
    del units[gone.name]


def fuse(units: dict[str, Unit]) -> dict[str, str]:
    """conv → bn → act|gate and linear → act into one unit each; returns the renames."""
    renames: dict[str, str] = {}
    for name in list(units):
        u = units.get(name)
        if u is None or u.kind not in ("conv", "linear"):
            continue
        u.attrs.setdefault("act", None)
        u.attrs.setdefault("gate", None)
        for follow in (("bn",), ("act", "gate")):
            readers = users(units)[u.name]
            if len(readers) != 1 or units[readers[0]].kind not in follow:
                continue
            nxt = units[readers[0]]
            if u.kind == "linear" and nxt.kind == "bn":
                continue
            if nxt.kind == "bn":
                u.attrs["bn"] = True
            else:
                u.attrs[nxt.kind] = nxt.attrs[nxt.kind]
            _absorb(units, u, nxt, renames)
    return renames


def fuse_se(units: dict[str, Unit]) -> None:
    """gpool → 1×1 conv-act → 1×1 conv-gate → mul(x, ·) into one ``se`` unit."""
    for name in list(units):
        m = units.get(name)
        if m is None or m.kind != "mul" or len(m.inputs) != 2:
            continue
        for x_name, g_name in (m.inputs, m.inputs[::-1]):
            g = units[g_name]
            if g.kind != "conv" or not g.attrs.get("gate") or len(g.inputs) != 1:
                continue
            r = units[g.inputs[0]]
            if r.kind != "conv" or not r.attrs.get("act") or len(r.inputs) != 1:
                continue
            p = units[r.inputs[0]]
            if p.kind != "gpool" or p.inputs != [x_name]:
                continue
            se = Unit(
                m.name,
                "se",
                [x_name],
                m.shape,
                p.members + r.members + g.members + m.members,
                {
                    "channels": r.attrs["cin"],
                    "squeeze": r.attrs["cout"],
                    "se_act": r.attrs["act"],
                    "gate": g.attrs["gate"],
                },
                p.nodes + r.nodes + g.nodes + m.nodes,
            )
            for gone in (p.name, r.name, g.name):
                del units[gone]
            units[m.name] = se
            break


def fuse_post_act(units: dict[str, Unit]) -> dict[str, str]:
    """An add or mul (outside SE) → act into one unit; returns the renames."""
    renames: dict[str, str] = {}
    for name in list(units):
        u = units.get(name)
        if u is None or u.kind not in ("add", "mul"):
            continue
        u.attrs.setdefault("act", None)
        readers = users(units)[u.name]
        if len(readers) == 1 and units[readers[0]].kind == "act":
            act = units[readers[0]]
            u.attrs["act"] = act.attrs["act"]
            _absorb(units, u, act, renames)
    return renames
