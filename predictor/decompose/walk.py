"""Pass 3, the main path: walk from the graph's input to its output, cutting out residual blocks.

Runs of units between residual blocks are parsed into ops (:class:`patterns.Builder`). A
residual add whose other operand is the block input (identity) or a 3×3 average pool of it
[→ 1×1 conv] (pool skip) becomes the skip of the single op it spans: a block spanning more than
one op, or a path that forks any other way, is an error naming where.
"""

from __future__ import annotations

from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from predictor.decompose.patterns import Builder, is_1x1
from predictor.decompose.units import Unit, users


def walk(
    units: dict[str, Unit], source: str, output: str
) -> tuple[list[LayerSpec], list[list[str]]]:
    """The layers from ``source`` to ``output`` in order, and the members each covers.

    Raises:
        LutnasError: a part of the path maps to no op, or a skip to no single op (named).
    """
    builder = Builder(units, source)
    readers = users(units)
    specs: list[LayerSpec] = []
    members: list[list[str]] = []

    def flush(chain: list[Unit]) -> list[tuple[LayerSpec, list[Unit]]]:
        parsed = builder.parse(chain)
        for spec, us in parsed:
            specs.append(spec)
            members.append([m for x in us for m in x.members])
        return parsed

    current, chain = source, []
    visited = 0
    while current != output:
        visited += 1
        if visited > 10 * len(units) + 10:
            raise LutnasError("decomposition did not reach the graph output (a cycle?)")
        nxt = readers[current]
        main = [n for n in nxt if units[n].kind not in ("add", "avgpool")]
        side = [n for n in nxt if n not in main]
        if len(main) != 1 and not (not main and len(side) == 1 and units[side[0]].kind == "add"):
            raise LutnasError(
                f"cannot follow the network after {current}: it feeds "
                f"{len(nxt)} nodes ({', '.join(nxt)}); only chains with residual "
                "adds can be decomposed"
            )
        if not side:
            chain.append(units[main[0]])
            current = main[0]
            continue
        # ``current`` is the input of a residual block: flush what came before, follow the
        # main path to the add, and give the skip to the one block in between.
        flush(chain)
        chain = []
        shortcut: list[Unit] = []
        add_unit = None
        if units[side[0]].kind == "avgpool":
            pool = units[side[0]]
            shortcut.append(pool)
            tail = readers[pool.name]
            if len(tail) == 1 and units[tail[0]].kind == "conv":
                if not is_1x1(units[tail[0]], False):
                    raise LutnasError(
                        f"the shortcut conv {tail[0]} after average pool "
                        f"{pool.name} is not a 1x1 conv + BN (the LUT's poolskip)"
                    )
                shortcut.append(units[tail[0]])
                tail = readers[tail[0]]
            if len(tail) != 1 or units[tail[0]].kind != "add":
                raise LutnasError(f"average pool {pool.name} is neither a pool skip nor mapped")
            add_unit = units[tail[0]]
        else:
            add_unit = units[side[0]]
        walker = main[0] if main else None
        block: list[Unit] = []
        while walker is not None and walker != add_unit.name:
            block.append(units[walker])
            nxt_users = readers[walker]
            if len(nxt_users) != 1:
                raise LutnasError(
                    f"{walker} inside a residual block feeds {len(nxt_users)} "
                    "nodes; cannot decompose"
                )
            walker = nxt_users[0]
        parsed = builder.parse(block)
        if len(parsed) != 1:
            raise LutnasError(
                f"the residual add {add_unit.name} spans {len(parsed)} LUT "
                "layers; a skip must cover exactly one layer to be in a LUT row"
            )
        spec, used = parsed[0]
        kind = "poolskip" if shortcut else "idskip"
        if shortcut:
            pool = shortcut[0]
            k = pool.attrs["k"] if isinstance(pool.attrs["k"], int) else pool.attrs["k"][0]
            if k != 3:
                raise LutnasError(
                    f"pool skip {pool.name} uses a {k}x{k} pool; the LUT's poolskip is 3x3"
                )
        spec = LayerSpec(**{**spec.to_dict(), "skip": kind})
        specs.append(spec)
        members.append([m for x in used + shortcut + [add_unit] for m in x.members])
        current = add_unit.name
    flush(chain)
    return specs, members
