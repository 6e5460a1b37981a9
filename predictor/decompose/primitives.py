"""Pass 1, primitives: trace a module with torch.fx and turn each graph node into one unit.

Every node becomes a primitive (conv, bn, act, gate, linear, gpool, avgpool, maxpool, add, mul,
concat, split and its parts, shuffle) or a no-op that costs nothing at inference (dropout,
identity, stochastic depth, flatten/reshape), which is passed through and listed as ignored.
Anything else is an error naming the node: a part of a network is never silently dropped.
Activations and gates are recognised in every spelling :mod:`lut.activations` lists (module,
function, ``Tensor`` method). A channel shuffle is the view → transpose(1, 2) → view of a
``(1, C, H, W)`` tensor through ``(1, g, C/g, H, W)``; a unit reading a reshaped view any other
way (except a linear layer reading a flattened map) is an error.
"""

from __future__ import annotations

import contextlib
import io
import operator

import torch
import torch.nn.functional as TF
from torch import fx, nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.passes.shape_prop import ShapeProp

from lut.activations import NAME_OF_FUNCTION, NAME_OF_METHOD, NAME_OF_MODULE
from lut.spec import GATES
from lutnas.errors import LutnasError
from predictor.decompose.units import Unit

_NOOP_MODULES = (nn.Dropout, nn.Identity, nn.Flatten)
_NOOP_NAMES = ("StochasticDepth",)  # torchvision.ops; the identity in eval mode
_ADD = (operator.add, operator.iadd, torch.add)
_MUL = (operator.mul, operator.imul, torch.mul)
_RESHAPE_METHODS = ("flatten", "view", "reshape", "contiguous", "squeeze")
_SPLITS = {"chunk", "split"}  # method names; torch.chunk / torch.split as functions


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return type(m).__name__ in _NOOP_NAMES or super().is_leaf_module(m, qualname)


def _shape(node: fx.Node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def _tensor_args(node: fx.Node) -> list[fx.Node]:
    """The node's tensor arguments in the order written, repeats kept (``x + x``, ``cat``)."""
    out: list[fx.Node] = []

    def visit(a: object) -> None:
        if isinstance(a, fx.Node):
            if _shape(a) is not None:
                out.append(a)
        elif isinstance(a, (list, tuple)):
            for b in a:
                visit(b)

    for a in (*node.args, *node.kwargs.values()):
        visit(a)
    return out


def _is_global(dims: object) -> bool:
    if not isinstance(dims, (list, tuple)):
        return False
    return sorted(int(d) % 4 for d in dims) == [2, 3]


def _arg(node: fx.Node, i: int, name: str, default: object = None) -> object:
    return node.args[i] if len(node.args) > i else node.kwargs.get(name, default)


def _act_or_gate(name: str) -> tuple[str, dict]:
    """(kind, attrs) of the activation or gate ``name``: ``("act", {"act": "relu"})``."""
    kind = "gate" if name in GATES else "act"
    return kind, {kind: name}


def _pool_attrs(k: object, stride: object, pad: object, ceil: bool, countpad: bool) -> dict:
    return {"k": k, "stride": stride or k, "padding": pad, "ceil": ceil, "countpad": countpad}


def _module_kind(m: nn.Module) -> tuple[str, dict]:
    if isinstance(m, nn.Conv2d):
        return "conv", {
            "cin": m.in_channels,
            "cout": m.out_channels,
            "k": m.kernel_size,
            "stride": m.stride,
            "groups": m.groups,
            "padding": m.padding,
            "dilation": m.dilation,
            "bias": m.bias is not None,
        }
    if isinstance(m, nn.BatchNorm2d):
        return "bn", {}
    if type(m) in NAME_OF_MODULE:  # exact type, as lut.activations says
        return _act_or_gate(NAME_OF_MODULE[type(m)])
    if isinstance(m, nn.Linear):
        return "linear", {"cin": m.in_features, "cout": m.out_features, "bias": m.bias is not None}
    if isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1)):
        return "gpool", {}
    if isinstance(m, nn.AvgPool2d) and not m.divisor_override:
        return "avgpool", _pool_attrs(
            m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad
        )
    if isinstance(m, nn.MaxPool2d) and m.dilation in (1, (1, 1)) and not m.return_indices:
        return "maxpool", _pool_attrs(m.kernel_size, m.stride, m.padding, m.ceil_mode, False)
    if isinstance(m, _NOOP_MODULES) or type(m).__name__ in _NOOP_NAMES:
        return "noop", {}
    return "unknown", {"what": f"module {type(m).__name__}"}


def _function_kind(node: fx.Node) -> tuple[str, dict]:
    f = node.target
    if f in NAME_OF_FUNCTION:
        return _act_or_gate(NAME_OF_FUNCTION[f])
    if f in _ADD:
        return "add", {}
    if f in _MUL:
        return "mul", {}
    if f is torch.flatten or f in (TF.dropout, torch.reshape):
        return "noop", {}
    if f is TF.adaptive_avg_pool2d and node.args[1] in (1, (1, 1), [1, 1]):
        return "gpool", {}
    if f is torch.mean and _is_global(_arg(node, 1, "dim")):
        return "gpool", {}
    if f is TF.max_pool2d and _arg(node, 4, "dilation", 1) in (1, (1, 1)):
        k = _arg(node, 1, "kernel_size")
        ceil = bool(_arg(node, 5, "ceil_mode", False))
        return "maxpool", _pool_attrs(
            k, _arg(node, 2, "stride"), _arg(node, 3, "padding", 0), ceil, False
        )
    if f is TF.avg_pool2d and _arg(node, 6, "divisor_override") is None:
        k = _arg(node, 1, "kernel_size")
        ceil, countpad = (
            bool(_arg(node, 4, "ceil_mode", False)),
            bool(_arg(node, 5, "count_include_pad", True)),
        )
        return "avgpool", _pool_attrs(
            k, _arg(node, 2, "stride"), _arg(node, 3, "padding", 0), ceil, countpad
        )
    if f is torch.cat and _arg(node, 1, "dim", 0) in (1, -3):
        return "concat", {}
    if f in (torch.chunk, torch.split) and _arg(node, 2, "dim", 0) in (1, -3):
        return "split", {}
    if f is torch.transpose and sorted((_arg(node, 1, "dim0"), _arg(node, 2, "dim1"))) == [1, 2]:
        return "transpose", {}
    return "unknown", {"what": f"function {getattr(f, '__name__', f)}"}


def _method_kind(node: fx.Node) -> tuple[str, dict]:
    t = node.target
    if t == "mean" and _is_global(_arg(node, 1, "dim")):
        return "gpool", {}
    if t in _RESHAPE_METHODS:
        return "noop", {}
    if t in NAME_OF_METHOD:
        return _act_or_gate(NAME_OF_METHOD[t])
    if t in ("add", "add_"):
        return "add", {}
    if t in ("mul", "mul_"):
        return "mul", {}
    if t in _SPLITS and _arg(node, 2, "dim", 0) in (1, -3):
        return "split", {}
    if t == "transpose" and sorted((_arg(node, 1, "dim0"), _arg(node, 2, "dim1"))) == [1, 2]:
        return "transpose", {}
    if t == "permute" and tuple(node.args[1:]) in ((0, 2, 1, 3, 4), ((0, 2, 1, 3, 4),)):
        return "transpose", {}
    return "unknown", {"what": f"method .{t}()"}


def _classify(node: fx.Node, modules: dict[str, nn.Module]) -> tuple[str, dict, str]:
    """(kind, attrs, member name) of one fx node."""
    if node.op == "call_module":
        return (*_module_kind(modules[node.target]), str(node.target))
    if node.op == "call_function":
        if node.target is operator.getitem:
            return "part", {"index": node.args[1]}, node.name
        return (*_function_kind(node), node.name)
    if node.op == "call_method":
        return (*_method_kind(node), node.name)
    return "unknown", {"what": node.op}, node.name


def _same_tensor(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Shapes holding one tensor as is: equal, or a vector and its 1×1 map."""
    return a == b or (a[:2] == b[:2] and all(d == 1 for d in a[2:] + b[2:]))


class _Pass:
    """The walk over the traced graph (state of :func:`primitives`)."""

    def __init__(self, gm: fx.GraphModule, name: str) -> None:
        self.modules = dict(gm.named_modules())
        self.name = name
        self.units: dict[str, Unit] = {}
        self.alias: dict[str, str] = {}  # no-op node -> the unit it passes through
        self.view: dict[str, tuple[int, ...]] = {}  # no-op node -> the shape it views as
        self.ignored: list[str] = []
        self.called: set[str] = set()
        self.source = self.output = ""

    def error(self, node: fx.Node, what: str, hint: str = "") -> LutnasError:
        return LutnasError(
            f"cannot map node {node.name} ({what}) of {self.name} to a LUT layer" + hint
        )

    def visit(self, node: fx.Node) -> None:
        if node.op == "placeholder":
            self.source = node.name
            self.units[node.name] = Unit(node.name, "input", [], _shape(node) or (), [])
            return
        if node.op == "output":
            arg = node.args[0]
            if isinstance(arg, fx.Node):
                self.output = self.alias.get(arg.name, arg.name)
            return
        if node.op == "get_attr":
            return
        kind, attrs, member = _classify(node, self.modules)
        if node.op == "call_module":
            self.called.add(member)
        if kind == "part":
            self._part(node, attrs)
            return
        shape = _shape(node)
        if kind == "split":
            meta = node.meta.get("tensor_meta")
            attrs = {"parts": tuple(int(m.shape[1]) for m in meta)}
            shape = ()
        elif shape is None:
            return  # shape arithmetic (x.size(0)): no tensor compute
        args = _tensor_args(node)
        inputs = [self.alias.get(a.name, a.name) for a in args]
        if kind == "noop":
            if len(inputs) != 1:
                raise self.error(node, f"a pass-through with {len(inputs)} tensor inputs")
            self.alias[node.name] = inputs[0]
            self.view[node.name] = shape
            self.ignored.append(member)
            return
        if kind == "unknown":
            raise self.error(
                node,
                attrs["what"],
                "; the vocabulary covers convs (grouped, depthwise, with or without BN), "
                "activations, squeeze-and-excite, max/average/global pooling, element-wise "
                "add and mul, concat, channel split and shuffle, linear layers",
            )
        if kind == "transpose":
            kind, attrs, shape = self._shuffle(node, args, inputs)
        for a, i in zip(args, inputs, strict=True):
            viewed = self.view.get(a.name)
            if viewed is not None and kind not in ("linear", "shuffle"):
                if not _same_tensor(viewed, self.units[i].shape):
                    raise self.error(node, f"it reads {a.name}, {i} reshaped to {viewed}")
        self.units[node.name] = Unit(node.name, kind, inputs, shape, [member], attrs, [node.name])

    def _part(self, node: fx.Node, attrs: dict) -> None:
        src = node.args[0]
        split = self.units.get(src.name) if isinstance(src, fx.Node) else None
        if split is None or split.kind != "split":
            if _shape(node) is None:
                return  # indexing a size: shape arithmetic
            raise self.error(node, "indexing a tensor")
        index = int(attrs["index"]) % len(split.attrs["parts"])
        self.units[node.name] = Unit(
            node.name, "part", [src.name], _shape(node), [], {"index": index}, [node.name]
        )

    def _shuffle(
        self, node: fx.Node, args: list[fx.Node], inputs: list[str]
    ) -> tuple[str, dict, tuple[int, ...]]:
        five = _shape(args[0]) if args else None
        src = self.units[inputs[0]].shape if inputs else ()
        if (
            five is None
            or len(five) != 5
            or len(src) != 4
            or src != (1, five[1] * five[2], five[3], five[4])
        ):
            raise self.error(node, "a transpose that is not a channel shuffle")
        return "shuffle", {"groups": five[1]}, src


def _propagate_shapes(gm: fx.GraphModule, shape: tuple[int, ...], device: torch.device) -> None:
    """Every node's output shape, on fake tensors (no arithmetic: several times faster on
    big inputs, and modules built on the meta device work); computed for real where an op has
    no fake implementation."""
    with torch.no_grad():
        if device.type == "meta":  # a module built on the meta device: shapes only already
            ShapeProp(gm).propagate(torch.empty(shape, device=device))
            return
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # ShapeProp prints what it raises
                fake = FakeTensorMode(allow_non_fake_inputs=True)
                ShapeProp(gm, fake_mode=fake).propagate(torch.empty(shape, device=device))
        except Exception:
            ShapeProp(gm).propagate(torch.randn(shape, device=device))


def primitives(
    module: nn.Module, input_shape: tuple[int, ...]
) -> tuple[dict[str, Unit], str, str, list[str], list[str]]:
    """Trace ``module`` on a batch-1 input of ``input_shape`` (shapes from ``ShapeProp``).

    Returns:
        (units by node name in graph order, the input node, the output node, ignored no-ops,
        computing modules the traced graph never calls).

    Raises:
        LutnasError: tracing fails, or a node is none of the primitives (named).
    """
    try:
        graph = _Tracer().trace(module)
    except Exception as exc:  # symbolic tracing cannot follow data-dependent control flow
        raise LutnasError(
            f"torch.fx could not trace {type(module).__name__} ({exc}); only "
            "modules without data-dependent control flow can be decomposed"
        ) from exc
    gm = fx.GraphModule(module, graph)
    _propagate_shapes(gm, input_shape, next(module.parameters(), torch.empty(0)).device)
    walk = _Pass(gm, type(module).__name__)
    for node in gm.graph.nodes:
        walk.visit(node)
    unused = sorted(mapped_modules(module) - walk.called)
    return walk.units, walk.source, walk.output, walk.ignored, unused


def mapped_modules(module: nn.Module) -> set[str]:
    """Qualified names of the leaf modules that compute something (what must be mapped)."""
    out = set()
    for name, m in module.named_modules():
        if (
            name
            and not list(m.children())
            and not isinstance(m, (*_NOOP_MODULES, nn.Sequential, nn.ModuleList, nn.ModuleDict))
            and type(m).__name__ not in _NOOP_NAMES
        ):
            out.add(name)
    return out
