"""Pass 1, primitives: trace a module with torch.fx and turn each graph node into one unit.

Every node becomes a primitive (conv, bn, act, gate, linear, gpool, avgpool, add, mul) or a
no-op that costs nothing at inference (dropout, identity, stochastic depth, flatten/reshape),
which is passed through and listed as ignored. Anything else is an error naming the node: a
part of a network is never silently dropped. Activations and gates are recognised in every
spelling :mod:`lut.activations` lists (module, function, ``Tensor`` method).
"""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as TF
from torch import fx, nn
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


def _act_or_gate(name: str) -> tuple[str, dict]:
    """(kind, attrs) of the activation or gate ``name``: ``("act", {"act": "relu"})``."""
    kind = "gate" if name in GATES else "act"
    return kind, {kind: name}


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
        if type(m) in NAME_OF_MODULE:  # exact type, as lut.activations says
            return (*_act_or_gate(NAME_OF_MODULE[type(m)]), name)
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
        if f in NAME_OF_FUNCTION:
            return (*_act_or_gate(NAME_OF_FUNCTION[f]), name)
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
        if node.target in NAME_OF_METHOD:
            return (*_act_or_gate(NAME_OF_METHOD[node.target]), name)
        if node.target in ("add", "add_"):
            return "add", {}, name
        if node.target in ("mul", "mul_"):
            return "mul", {}, name
        return "unknown", {"what": f"method .{node.target}()"}, name
    return "unknown", {"what": node.op}, name


def primitives(
    module: nn.Module, input_shape: tuple[int, ...]
) -> tuple[dict[str, Unit], str, str, list[str]]:
    """Trace ``module`` on a batch-1 input of ``input_shape`` (shapes from ``ShapeProp``).

    Returns:
        (units by node name in graph order, the input node, the output node, ignored no-ops).

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
