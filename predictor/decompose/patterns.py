"""Pass 3, the ops: match a run of fused units to the LUT op it computes, longest first.

The spaces' ops first: mbconv = 1×1 conv-act, depthwise conv-act, [SE], 1×1 conv; dconv =
depthwise conv-act, [SE], 1×1 conv; head = 1×1 conv-act, global pool; stem / conv = k×k
conv-act [SE]; fcact = linear-act; fc = linear; all with BN after every conv. Then one unit at a
time: any other conv (grouped, depthwise, without activation, with a bias instead of BN, other
padding) is a ``conv`` [SE], a max / average pool a ``maxpool`` / ``avgpool``, a global pool a
``gpool``, a shuffle a ``shuffle``. Residual blocks (:func:`~predictor.decompose.blocks.block_op`)
also take ResNet's ``basic`` and ``bottleneck``. Convs must be square, without dilation, so the
LayerSpec's output size is the module's (checked). What each unit is (a pointwise conv + BN, a
depthwise one, ...) is :mod:`~predictor.decompose.unit_checks`.
"""

from __future__ import annotations

from lut.spec import NO_ACT, LayerSpec, se_ratio_of
from lutnas.errors import LutnasError
from predictor.decompose.unit_checks import (
    conv_ok,
    hw,
    is_1x1,
    is_conv_act,
    is_dw,
    pair,
    se_at,
    square,
)
from predictor.decompose.units import Unit

_CHAIN_OPS = "stem/conv, dconv, mbconv, head, fc, fcact, pools, shuffle"


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
        se: Unit | None = None,
        skip: str = "noskip",
        **extra: object,
    ) -> LayerSpec:
        """The LayerSpec of units ``first`` … ``last``, checked against their output size."""
        h, w = hw(self.in_shape(first))
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
            **se_kw,
            **extra,
        )
        out = hw(last.shape)
        if spec.output_hw != out and op not in ("fc", "fcact"):
            raise LutnasError(
                f"{last.name}: output {out} differs from the {spec.output_hw} of "
                f"{spec.key} (padding other than k // 2?)"
            )
        return spec

    def match(self, chain: list[Unit], i: int) -> tuple[LayerSpec, int] | None:
        """The longest op matching ``chain[i:]``: (spec, units consumed)."""
        u = chain[i:]
        for matcher in (self._mbconv, self._dconv, self._head, self._conv_act, self._fc):
            found = matcher(u)
            if found is not None:
                return found
        return self._single(u)

    def _mbconv(self, u: list[Unit]) -> tuple[LayerSpec, int] | None:
        """1x1 conv-act (widening), dw conv-act, [SE], 1x1 conv."""
        if not (
            len(u) >= 3
            and is_1x1(u[0], True)
            and u[0].attrs["cout"] != u[0].attrs["cin"]
            and is_dw(u[1])
            and conv_ok(u[1])
            and u[1].attrs["act"] == u[0].attrs["act"]
        ):
            return None
        se = se_at(u, 2)
        j = 3 if se else 2
        if j >= len(u) or not is_1x1(u[j], False):
            return None
        cin, mid = u[0].attrs["cin"], u[0].attrs["cout"]
        spec = self.spec(
            "mbconv",
            u[0],
            u[j],
            kernel=pair(u[1].attrs["k"])[0],
            expansion=max(1, round(mid / cin)),
            act=u[0].attrs["act"],
            cin=cin,
            cout=u[j].attrs["cout"],
            stride=pair(u[1].attrs["stride"])[0],
            mid=mid,
            se=se,
        )
        return spec, j + 1

    def _dconv(self, u: list[Unit]) -> tuple[LayerSpec, int] | None:
        """dw conv-act, [SE], 1x1 conv."""
        if not (len(u) >= 2 and is_dw(u[0]) and conv_ok(u[0]) and u[0].attrs.get("act")):
            return None
        se = se_at(u, 1)
        j = 2 if se else 1
        if j >= len(u) or not is_1x1(u[j], False):
            return None
        spec = self.spec(
            "dconv",
            u[0],
            u[j],
            kernel=pair(u[0].attrs["k"])[0],
            act=u[0].attrs["act"],
            cin=u[0].attrs["cin"],
            cout=u[j].attrs["cout"],
            stride=pair(u[0].attrs["stride"])[0],
            se=se,
        )
        return spec, j + 1

    def _head(self, u: list[Unit]) -> tuple[LayerSpec, int] | None:
        """1x1 conv-act, global pool."""
        if not (len(u) >= 2 and is_1x1(u[0], True) and u[1].kind == "gpool"):
            return None
        a = u[0].attrs
        return self.spec("head", u[0], u[1], act=a["act"], cin=a["cin"], cout=a["cout"]), 2

    def _conv_act(self, u: list[Unit]) -> tuple[LayerSpec, int] | None:
        """k×k conv-act, [SE]: stem on the network input, else conv."""
        if not (u and is_conv_act(u[0])):
            return None
        se = se_at(u, 1)
        first_layer = u[0].inputs == [self.source]
        op = "stem" if first_layer and se is None else "conv"
        a = u[0].attrs
        spec = self.spec(
            op,
            u[0],
            u[1] if se else u[0],
            kernel=pair(a["k"])[0],
            act=a["act"],
            cin=a["cin"],
            cout=a["cout"],
            stride=pair(a["stride"])[0],
            se=se,
        )
        return spec, 2 if se else 1

    def _fc(self, u: list[Unit]) -> tuple[LayerSpec, int] | None:
        if not (u and u[0].kind == "linear" and not u[0].attrs.get("gate")):
            return None
        if not u[0].attrs["bias"]:
            raise LutnasError(f"linear {u[0].name} has no bias; the LUT's fc layers have one")
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

    def _single(self, u: list[Unit]) -> tuple[LayerSpec, int] | None:
        """One unit on its own: a conv of any kind [SE], a pool, a global pool, a shuffle."""
        if not u:
            return None
        x = u[0]
        if x.kind == "conv":
            return self._generic_conv(u)
        c = self.in_shape(x)[1] if len(self.in_shape(x)) > 1 else 0
        if x.kind in ("maxpool", "avgpool"):
            k, s, p = (square(x.attrs[n]) for n in ("k", "stride", "padding"))
            if None in (k, s, p) or (x.kind == "avgpool" and x.attrs["ceil"]):
                return None
            extra = {"pad": p, "ceil": x.attrs["ceil"], "countpad": x.attrs["countpad"]}
            if x.kind == "maxpool":
                extra.pop("countpad")
            else:
                extra.pop("ceil")
            spec = self.spec(x.kind, x, x, kernel=k, stride=s, act=NO_ACT, cin=c, cout=c, **extra)
            return spec, 1
        if x.kind in ("gpool", "shuffle"):
            groups = x.attrs.get("groups", 0)
            return self.spec(x.kind, x, x, act=NO_ACT, cin=c, cout=c, groups=groups), 1
        return None

    def _generic_conv(self, u: list[Unit]) -> tuple[LayerSpec, int] | None:
        x = u[0]
        a = x.attrs
        k, s, p = (square(a[n]) for n in ("k", "stride", "padding"))
        if (
            None in (k, s, p)
            or k % 2 == 0
            or pair(a["dilation"]) != (1, 1)
            or a.get("gate")
            or bool(a.get("bn")) == a["bias"]  # BN without bias, or a bias without BN
        ):
            return None
        se = se_at(u, 1)
        act = a.get("act") or NO_ACT
        plain = a["groups"] == 1 and se is None and act != NO_ACT
        op = "stem" if plain and x.inputs == [self.source] else "conv"
        spec = self.spec(
            op,
            x,
            u[1] if se else x,
            kernel=k,
            act=act,
            cin=a["cin"],
            cout=a["cout"],
            stride=s,
            se=se,
            groups=a["groups"],
            pad=p,
            bn=bool(a.get("bn")),
        )
        return spec, 2 if se else 1

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
                    f"to a LUT layer ({_CHAIN_OPS})"
                )
            spec, n = found
            out.append((spec, chain[i : i + n]))
            i += n
        return out
