"""An arbitrary torch module → the LayerSpecs of the LUT, found by tracing (torch.fx).

Three passes over the traced graph (shapes from ``ShapeProp`` on a batch-1 input):

1. **Primitives.** Every node becomes one primitive: conv, bn, act, gate (sigmoid /
   hard-sigmoid), linear, gpool (global average pool in any spelling), avgpool, add, mul; or
   a no-op (dropout, identity, stochastic depth, flatten/reshape), which costs nothing at
   inference and is listed in :attr:`Decomposition.ignored`. Anything else is an error that
   names the node: a part of a network is never silently dropped.
2. **Fusion.** conv → bn → act becomes one unit, linear → act one unit, and
   pool → 1×1 conv → act → 1×1 conv → gate → mul one SE unit.
3. **Blocks.** Walking the main path from the input, runs of units are matched to the LUT's
   ops (longest first): mbconv = 1×1 conv-act, depthwise conv-act, [SE], 1×1 conv;
   dconv = depthwise conv-act, [SE], 1×1 conv; head = 1×1 conv-act, global pool;
   stem / conv = k×k conv-act [SE]; fcact = linear-act; fc = linear. A residual add whose other
   operand is the block input (identity) or an average pool of it [→ 1×1 conv] (pool skip)
   becomes the skip of the single block it spans.

Every unit of the graph ends up in exactly one LayerSpec (:attr:`Decomposition.members` lists
the module names and graph nodes of each), which the tests check for torchvision's MNASNets,
MobileNetV2/V3 and EfficientNet-B0.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as TF
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from lut.spec import LayerSpec
from lutnas.errors import LutnasError

_ACT_MODULES = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardswish: "hswish", nn.SiLU: "silu"}
_GATE_MODULES = {nn.Sigmoid: "sigmoid", nn.Hardsigmoid: "hsigmoid"}
_ACT_FUNCS = {
    TF.relu: "relu",
    torch.relu: "relu",
    TF.relu6: "relu6",
    TF.hardswish: "hswish",
    TF.silu: "silu",
}
_GATE_FUNCS = {torch.sigmoid: "sigmoid", TF.sigmoid: "sigmoid", TF.hardsigmoid: "hsigmoid"}
_NOOP_MODULES = (nn.Dropout, nn.Identity, nn.Flatten)
_NOOP_NAMES = ("StochasticDepth",)  # torchvision.ops; the identity in eval mode
_ADD = (operator.add, operator.iadd, torch.add)
_MUL = (operator.mul, operator.imul, torch.mul)
_RESHAPE_METHODS = ("flatten", "view", "reshape", "contiguous", "squeeze")


@dataclass
class Unit:
    """A fused piece of the graph."""

    name: str
    kind: str  # conv | bn | act | gate | linear | gpool | avgpool | add | mul | se | input
    inputs: list[str]
    shape: tuple[int, ...]
    members: list[str]
    attrs: dict = field(default_factory=dict)


@dataclass
class Decomposition:
    """The module's layers, what each is made of, and what was ignored as free.

    Attributes:
        specs: the layers in execution order.
        members: for each spec, the module qualified names / graph nodes it covers.
        ignored: no-op nodes (dropout, identity, stochastic depth, reshapes).
    """

    specs: list[LayerSpec]
    members: list[list[str]]
    ignored: list[str]

    def covered(self) -> set[str]:
        return {m for ms in self.members for m in ms}


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return type(m).__name__ in _NOOP_NAMES or super().is_leaf_module(m, qualname)


def _shape(node: fx.Node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def _tensor_inputs(node: fx.Node) -> list[str]:
    out = []
    for a in node.all_input_nodes:
        if _shape(a) is not None:
            out.append(a.name)
    return out


def _is_global(dims: object) -> bool:
    if not isinstance(dims, (list, tuple)):
        return False
    return sorted(int(d) % 4 for d in dims) == [2, 3]


def _classify(node: fx.Node, modules: dict[str, nn.Module]) -> tuple[str, dict, str]:
    """(kind, attrs, member name) of one fx node."""
    if node.op == "call_module":
        m = modules[node.target]
        name = str(node.target)
        if isinstance(m, nn.Conv2d):
            return (
                "conv",
                {
                    "cin": m.in_channels,
                    "cout": m.out_channels,
                    "k": m.kernel_size,
                    "stride": m.stride,
                    "groups": m.groups,
                    "padding": m.padding,
                    "dilation": m.dilation,
                    "bias": m.bias is not None,
                },
                name,
            )
        if isinstance(m, nn.BatchNorm2d):
            return "bn", {}, name
        for cls, act in _ACT_MODULES.items():
            if type(m) is cls:
                return "act", {"act": act}, name
        for cls, gate in _GATE_MODULES.items():
            if type(m) is cls:
                return "gate", {"gate": gate}, name
        if isinstance(m, nn.Linear):
            return "linear", {"cin": m.in_features, "cout": m.out_features}, name
        if isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1)):
            return "gpool", {}, name
        if isinstance(m, nn.AvgPool2d):
            return "avgpool", {"k": m.kernel_size, "stride": m.stride, "padding": m.padding}, name
        if isinstance(m, _NOOP_MODULES) or type(m).__name__ in _NOOP_NAMES:
            return "noop", {}, name
        return "unknown", {"what": f"module {type(m).__name__}"}, name
    name = node.name
    if node.op == "call_function":
        f = node.target
        if f in _ACT_FUNCS:
            return "act", {"act": _ACT_FUNCS[f]}, name
        if f in _GATE_FUNCS:
            return "gate", {"gate": _GATE_FUNCS[f]}, name
        if f in _ADD:
            return "add", {}, name
        if f in _MUL:
            return "mul", {}, name
        if f is torch.flatten or f in (TF.dropout, torch.reshape):
            return "noop", {}, name
        if f is TF.adaptive_avg_pool2d and node.args[1] in (1, (1, 1), [1, 1]):
            return "gpool", {}, name
        if f is torch.mean and _is_global(
            node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        ):
            return "gpool", {}, name
        return "unknown", {"what": f"function {getattr(f, '__name__', f)}"}, name
    if node.op == "call_method":
        if node.target == "mean" and _is_global(
            node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        ):
            return "gpool", {}, name
        if node.target in _RESHAPE_METHODS:
            return "noop", {}, name
        if node.target in ("relu", "relu_"):
            return "act", {"act": "relu"}, name
        if node.target in ("sigmoid", "sigmoid_"):
            return "gate", {"gate": "sigmoid"}, name
        if node.target in ("add", "add_"):
            return "add", {}, name
        if node.target in ("mul", "mul_"):
            return "mul", {}, name
        return "unknown", {"what": f"method .{node.target}()"}, name
    return "unknown", {"what": node.op}, name


def _primitives(
    module: nn.Module, input_shape: tuple[int, ...]
) -> tuple[dict[str, Unit], str, str, list[str]]:
    try:
        graph = _Tracer().trace(module)
    except Exception as exc:  # symbolic tracing cannot follow data-dependent control flow
        raise LutnasError(
            f"torch.fx could not trace {type(module).__name__} ({exc}); only "
            "modules without data-dependent control flow can be decomposed"
        ) from exc
    gm = fx.GraphModule(module, graph)
    with torch.no_grad():
        ShapeProp(gm).propagate(torch.randn(input_shape))
    modules = dict(gm.named_modules())
    units: dict[str, Unit] = {}
    alias: dict[str, str] = {}  # no-op node -> the node it passes through
    ignored: list[str] = []
    source = output = ""
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            source = node.name
            units[node.name] = Unit(node.name, "input", [], _shape(node) or (), [])
            continue
        if node.op == "output":
            arg = node.args[0]
            output = alias.get(arg.name, arg.name) if isinstance(arg, fx.Node) else ""
            continue
        if node.op == "get_attr" or _shape(node) is None:
            continue  # parameters and shape arithmetic (x.size(0)): no tensor compute
        kind, attrs, member = _classify(node, modules)
        inputs = [alias.get(i, i) for i in _tensor_inputs(node)]
        if kind == "noop":
            if len(inputs) != 1:
                raise LutnasError(
                    f"cannot decompose {node.name}: a pass-through with {len(inputs)} tensor inputs"
                )
            alias[node.name] = inputs[0]
            ignored.append(member)
            continue
        if kind == "unknown":
            raise LutnasError(
                f"cannot map node {node.name} ({attrs['what']}) of {type(module).__name__} to "
                "a LUT layer; the vocabulary covers conv/bn/activation, depthwise and 1x1 "
                "convs, squeeze-and-excite, global/3x3 average pooling, residual adds and "
                "linear layers"
            )
        units[node.name] = Unit(node.name, kind, inputs, _shape(node), [member], attrs)
    return units, source, output, ignored


def _users(units: dict[str, Unit]) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {n: [] for n in units}
    for u in units.values():
        for i in u.inputs:
            users[i].append(u.name)
    return users


def _absorb(units: dict[str, Unit], keep: Unit, gone: Unit, renames: dict[str, str]) -> None:
    """Merge ``gone`` (the only user of ``keep``) into ``keep``."""
    renames[gone.name] = keep.name
    keep.members += gone.members
    keep.shape = gone.shape
    for u in units.values():
        u.inputs = [keep.name if i == gone.name else i for i in u.inputs]
    del units[gone.name]


def _fuse(units: dict[str, Unit]) -> dict[str, str]:
    """conv → bn → act|gate and linear → act into one unit each; returns the renames."""
    renames: dict[str, str] = {}
    for name in list(units):
        u = units.get(name)
        if u is None or u.kind not in ("conv", "linear"):
            continue
        u.attrs.setdefault("act", None)
        u.attrs.setdefault("gate", None)
        for follow in (("bn",), ("act", "gate")):
            users = _users(units)[u.name]
            if len(users) != 1 or units[users[0]].kind not in follow:
                continue
            nxt = units[users[0]]
            if u.kind == "linear" and nxt.kind == "bn":
                continue
            if nxt.kind == "bn":
                u.attrs["bn"] = True
            else:
                u.attrs[nxt.kind] = nxt.attrs[nxt.kind]
            _absorb(units, u, nxt, renames)
    return renames


def _fuse_se(units: dict[str, Unit]) -> None:
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
            )
            for gone in (p.name, r.name, g.name):
                del units[gone]
            units[m.name] = se
            break


def _is_dw(u: Unit) -> bool:
    return (
        u.kind == "conv"
        and u.attrs["groups"] == u.attrs["cin"] == u.attrs["cout"]
        and u.attrs["groups"] > 1
    )


def _is_1x1(u: Unit, act: bool) -> bool:
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


class _Builder:
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
                "se_ratio": round(squeeze / gated, 4),
                "se_squeeze": squeeze,
                "se_act": se.attrs["se_act"],
                "se_gate": se.attrs["gate"],
            }
        spec = LayerSpec(
            op,
            kernel,
            expansion,
            se_kw.pop("se_ratio", 0.0),
            skip,
            act,
            cin,
            cout,
            stride,
            h,
            w,
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
            and _is_1x1(u[0], True)
            and _is_dw(u[1])
            and conv_ok(u[1])
            and u[1].attrs["act"] == u[0].attrs["act"]
        ):
            j = 3 if se_at(2) else 2
            if j < len(u) and _is_1x1(u[j], False):
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
            if j < len(u) and _is_1x1(u[j], False):
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
        if len(u) >= 2 and _is_1x1(u[0], True) and u[1].kind == "gpool":
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
                "fcact" if act else "fc",
                1,
                1,
                0.0,
                "noskip",
                act or "relu",
                u[0].attrs["cin"],
                u[0].attrs["cout"],
                1,
                1,
                1,
            ), 1
        return None

    def parse(self, chain: list[Unit]) -> list[tuple[LayerSpec, list[Unit]]]:
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


def decompose_module(
    module: nn.Module, input_shape: tuple[int, ...] = (1, 3, 224, 224)
) -> Decomposition:
    """The LayerSpecs of ``module`` for a batch-1 input of ``input_shape``.

    Raises:
        LutnasError: tracing fails, or a part of the graph maps to no LayerSpec (named).
    """
    was_training = module.training
    module.eval()
    try:
        units, source, output, ignored = _primitives(module, tuple(input_shape))
    finally:
        module.train(was_training)
    renames = _fuse(units)
    output = renames.get(output, output)
    _fuse_se(units)
    builder = _Builder(units, source)
    users = _users(units)
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
        nxt = users[current]
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
            tail = users[pool.name]
            if len(tail) == 1 and units[tail[0]].kind == "conv":
                if not _is_1x1(units[tail[0]], False):
                    raise LutnasError(
                        f"the shortcut conv {tail[0]} after average pool "
                        f"{pool.name} is not a 1x1 conv + BN (the LUT's poolskip)"
                    )
                shortcut.append(units[tail[0]])
                tail = users[tail[0]]
            if len(tail) != 1 or units[tail[0]].kind != "add":
                raise LutnasError(f"average pool {pool.name} is neither a pool skip nor mapped")
            add_unit = units[tail[0]]
        else:
            add_unit = units[side[0]]
        walker = main[0] if main else None
        block: list[Unit] = []
        while walker is not None and walker != add_unit.name:
            block.append(units[walker])
            nxt_users = users[walker]
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
    return Decomposition(specs, members, ignored)


def mapped_modules(module: nn.Module) -> set[str]:
    """Qualified names of the leaf modules that compute something (what must be mapped)."""
    out = set()
    for name, m in module.named_modules():
        if (
            name
            and not list(m.children())
            and not isinstance(m, _NOOP_MODULES)
            and type(m).__name__ not in _NOOP_NAMES
        ):
            out.add(name)
    return out
