"""Pass 3, the ops: match a run of fused units to the LUT op it computes, longest first.

mbconv = 1×1 conv-act, depthwise conv-act, [SE], 1×1 conv; dconv = depthwise conv-act, [SE],
1×1 conv; head = 1×1 conv-act, global pool; stem / conv = k×k conv-act [SE]; fcact =
linear-act; fc = linear. Convs must pad k // 2 without dilation, so the LayerSpec's output size
is the module's. Skips are not seen here: :mod:`predictor.decompose.walk` adds them.
"""

from __future__ import annotations

from lut.spec import LayerSpec, se_ratio_of
from lutnas.errors import LutnasError
from predictor.decompose.units import Unit


def _is_dw(u: Unit) -> bool:
    return (
        u.kind == "conv"
        and u.attrs["groups"] == u.attrs["cin"] == u.attrs["cout"]
        and u.attrs["groups"] > 1
    )


def is_1x1(u: Unit, act: bool) -> bool:
    """A stride-1 pointwise conv, with an activation iff ``act``, without a gate."""
    return (
        u.kind == "conv"
        and u.attrs["k"] == (1, 1)
        and u.attrs["groups"] == 1
        and u.attrs["stride"] == (1, 1)
        and bool(u.attrs.get("act")) == act
        and not u.attrs.get("gate")
    )


def _is_conv_act(u: Unit) -> bool:
    k = u.attrs.get("k", (0, 0)) if u.kind == "conv" else (0, 0)
    return (
        u.kind == "conv"
        and u.attrs["groups"] == 1
        and k[0] == k[1]
        and k[0] % 2 == 1
        and bool(u.attrs.get("act"))
        and not u.attrs.get("gate")
    )


def _hw(shape: tuple[int, ...]) -> tuple[int, int]:
    return (shape[2], shape[3]) if len(shape) == 4 else (1, 1)


class Builder:
    """Turns runs of units of one graph into LayerSpecs (``source``: the graph's input)."""

    def __init__(self, units: dict[str, Unit], source: str) -> None:
        self.units = units
        self.source = source

    def in_shape(self, u: Unit) -> tuple[int, ...]:
        return self.units[u.inputs[0]].shape

    def spec(
        self,
        op: str,
        first: Unit,
        last: Unit,
        *,
        kernel: int = 1,
        expansion: int = 1,
        act: str = "relu",
        cin: int,
        cout: int,
        stride: int = 1,
        mid: int = 0,
        se: Unit | None = None,
        skip: str = "noskip",
    ) -> LayerSpec:
        h, w = _hw(self.in_shape(first))
        se_kw: dict = {}
        if se is not None:
            gated, squeeze = se.attrs["channels"], se.attrs["squeeze"]
            if squeeze >= gated:
                raise LutnasError(
                    f"SE at {se.name} squeezes {gated} channels to {squeeze}; "
                    "the vocabulary needs a squeeze narrower than its input"
                )
            se_kw = {
                "se_ratio": se_ratio_of(squeeze, gated),
                "se_squeeze": squeeze,
                "se_act": se.attrs["se_act"],
                "se_gate": se.attrs["gate"],
            }
        spec = LayerSpec(
            op=op,
            kernel=kernel,
            expansion=expansion,
            se_ratio=se_kw.pop("se_ratio", 0.0),
            skip=skip,
            act=act,
            cin=cin,
            cout=cout,
            stride=stride,
            input_h=h,
            input_w=w,
            mid=mid,
            **se_kw,
        )
        out = _hw(last.shape)
        if spec.output_hw != out and op not in ("fc", "fcact"):
            raise LutnasError(
                f"{last.name}: output {out} differs from the {spec.output_hw} of "
                f"{spec.key} (padding other than k // 2?)"
            )
        return spec

    def match(self, chain: list[Unit], i: int) -> tuple[LayerSpec, int] | None:
        """The longest op matching ``chain[i:]``: (spec, units consumed)."""
        u = chain[i:]
        se_at = lambda j: j < len(u) and u[j].kind == "se"  # noqa: E731

        def conv_ok(c: Unit) -> bool:
            pad = c.attrs["padding"]
            return (
                c.attrs["dilation"] == (1, 1)
                and pad[0] == c.attrs["k"][0] // 2
                and c.attrs["stride"][0] == c.attrs["stride"][1]
            )

        # mbconv: 1x1 conv-act, dw conv-act, [SE], 1x1 conv
        if (
            len(u) >= 3
            and is_1x1(u[0], True)
            and _is_dw(u[1])
            and conv_ok(u[1])
            and u[1].attrs["act"] == u[0].attrs["act"]
        ):
            j = 3 if se_at(2) else 2
            if j < len(u) and is_1x1(u[j], False):
                cin, mid = u[0].attrs["cin"], u[0].attrs["cout"]
                spec = self.spec(
                    "mbconv",
                    u[0],
                    u[j],
                    kernel=u[1].attrs["k"][0],
                    expansion=max(1, round(mid / cin)),
                    act=u[0].attrs["act"],
                    cin=cin,
                    cout=u[j].attrs["cout"],
                    stride=u[1].attrs["stride"][0],
                    mid=mid,
                    se=u[2] if j == 3 else None,
                )
                return spec, j + 1
        # dconv: dw conv-act, [SE], 1x1 conv
        if len(u) >= 2 and _is_dw(u[0]) and conv_ok(u[0]) and u[0].attrs.get("act"):
            j = 2 if se_at(1) else 1
            if j < len(u) and is_1x1(u[j], False):
                spec = self.spec(
                    "dconv",
                    u[0],
                    u[j],
                    kernel=u[0].attrs["k"][0],
                    act=u[0].attrs["act"],
                    cin=u[0].attrs["cin"],
                    cout=u[j].attrs["cout"],
                    stride=u[0].attrs["stride"][0],
                    se=u[1] if j == 2 else None,
                )
                return spec, j + 1
        # head: 1x1 conv-act, global pool
        if len(u) >= 2 and is_1x1(u[0], True) and u[1].kind == "gpool":
            return self.spec(
                "head",
                u[0],
                u[1],
                act=u[0].attrs["act"],
                cin=u[0].attrs["cin"],
                cout=u[0].attrs["cout"],
            ), 2
        # stem / conv: kxk conv-act, [SE]
        if u and _is_conv_act(u[0]) and conv_ok(u[0]):
            j = 2 if se_at(1) else 1
            first_layer = u[0].inputs == [self.source]
            op = "stem" if first_layer and j == 1 else "conv"
            return self.spec(
                op,
                u[0],
                u[j - 1],
                kernel=u[0].attrs["k"][0],
                act=u[0].attrs["act"],
                cin=u[0].attrs["cin"],
                cout=u[0].attrs["cout"],
                stride=u[0].attrs["stride"][0],
                se=u[1] if j == 2 else None,
            ), j
        # fc / fcact
        if u and u[0].kind == "linear" and not u[0].attrs.get("gate"):
            act = u[0].attrs.get("act")
            return LayerSpec(
                op="fcact" if act else "fc",
                kernel=1,
                expansion=1,
                se_ratio=0.0,
                skip="noskip",
                act=act or "relu",
                cin=u[0].attrs["cin"],
                cout=u[0].attrs["cout"],
                stride=1,
                input_h=1,
                input_w=1,
            ), 1
        return None

    def parse(self, chain: list[Unit]) -> list[tuple[LayerSpec, list[Unit]]]:
        """``chain`` cut into consecutive ops: (spec, the units it covers) for each.

        Raises:
            LutnasError: no op matches at some unit (named, with what follows).
        """
        out, i = [], 0
        while i < len(chain):
            found = self.match(chain, i)
            if found is None:
                u = chain[i]
                raise LutnasError(
                    f"cannot map {u.kind} {u.name} ({', '.join(u.members)}; attributes "
                    f"{ {k: v for k, v in u.attrs.items() if v is not None} }) and what follows "
                    "to a LUT layer (stem/conv, dconv, mbconv, head, fc, fcact)"
                )
            spec, n = found
            out.append((spec, chain[i : i + n]))
            i += n
        return out
