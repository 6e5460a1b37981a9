"""lutnas's ONNX writer (:mod:`profiler.onnxwrite`) against the TorchScript exporter it replaces.

For every kind of layer of both built-in spaces (a sample covering each op, kernel, stride,
expansion, SE, skip and activation found in them), the pooling and graph units, whole
architectures and a decomposed network: (a) the graph is the TorchScript exporter's, node for
node (op types in order, attributes, where each input comes from, the shapes and types of
initializers and of every tensor), (b) ONNX Runtime computes with it what torch computes, and
(c) a module type the writer does not know is exported by the TorchScript exporter.

Equivalence: ORT (1 thread, all graph optimisations) against the torch module on the same
input, to ``1e-4 × max|out| + 1e-5``; BN statistics randomised first (a fresh BN is the
identity and would hide a wrong fold).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from contracts.backend import forked_graph
from onnx import helper, numpy_helper
from test_tflite_export import VARIANTS, randomize
from test_tflite_units import UNITS
from torch import nn

from lut.modules import build_layer
from lut.network import build_network
from lut.spec import LayerSpec
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space
from profiler.base import Workload
from profiler.export import OPSET, onnx_path
from profiler.onnxwrite import PRODUCER, UnknownModule, onnx_bytes
from profiler.onnxwrite.torchscript import write_torchscript_onnx
from profiler.workloads import arch_workload, layer_workload

RESOLUTION = 64  # small inputs keep the exports quick; the op choices are those at 224
# what distinguishes two layers' graphs
FEATURES = ("op", "kernel", "stride", "expansion", "skip", "act", "se_act", "post")


def covering(specs: list[LayerSpec]) -> list[LayerSpec]:
    """The specs that each bring a value of a feature not seen before (every op, kernel, ...,
    SE or not, SE gate, a changed width or not), in their order."""
    seen: set[tuple] = set()
    out = []
    for s in specs:
        values = {(f, getattr(s, f)) for f in FEATURES}
        values |= {("se", s.se_ratio > 0), ("gate", s.se_gate_kind if s.se_ratio else "")}
        values |= {("widens", s.cin != s.cout), ("mid", bool(s.mid)), ("odd", s.input_h % 2)}
        if values - seen:
            seen |= values
            out.append(s)
    return out


SPACE_LAYERS = [
    s.key for name in ("mnasnet", "mobilenetv3") for s in covering(
        get_space(name).unique_layers(RESOLUTION)
    )
]  # fmt: skip
LAYERS = sorted(set(SPACE_LAYERS) | set(VARIANTS) | {key for key, _ in UNITS})


def seeded(build) -> nn.Module:
    torch.manual_seed(0)
    return build().eval()


def torchscript_model(module: nn.Module, shapes, tmp_path) -> onnx.ModelProto:
    path = tmp_path / "torchscript.onnx"
    write_torchscript_onnx(module, [tuple(s) for s in shapes], path, OPSET)
    return onnx.load(path)


def direct_model(module: nn.Module, shapes) -> onnx.ModelProto:
    shape_arg = tuple(shapes) if len(shapes) > 1 else tuple(shapes[0])
    return onnx.load_from_string(onnx_bytes(module, shape_arg, OPSET))


def _dims(value_info) -> tuple:
    t = value_info.type.tensor_type
    return (t.elem_type, tuple(d.dim_value for d in t.shape.dim))


def _attribute(a) -> object:
    value = helper.get_attribute_value(a)
    if isinstance(value, onnx.TensorProto):
        array = numpy_helper.to_array(value)
        return ("tensor", str(array.dtype), array.shape, array.tolist())
    return value


def structure(model: onnx.ModelProto) -> dict:
    """The graph with names replaced by where each tensor comes from: a graph input (by
    position), an initializer (its type and shape), or a node's output (node index, output)."""
    g = model.graph
    initializers = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    where: dict[str, tuple] = {v.name: ("input", i) for i, v in enumerate(g.input)}
    nodes = []
    for k, node in enumerate(g.node):
        reads = [
            ("init", str(initializers[n].dtype), initializers[n].shape)
            if n in initializers
            else where[n]
            for n in node.input
        ]
        attrs = {a.name: _attribute(a) for a in node.attribute}
        nodes.append((node.op_type, attrs, reads, len(node.output)))
        where |= {out: ("node", k, j) for j, out in enumerate(node.output)}
    return {
        "opset": [(o.domain, o.version) for o in model.opset_import],
        "ir_version": model.ir_version,
        "inputs": [(v.name, _dims(v)) for v in g.input],
        "outputs": [(v.name, where[v.name], _dims(v)) for v in g.output],
        "nodes": nodes,
        "initializers": [(str(a.dtype), a.shape) for a in initializers.values()],
        "value_info": sorted((where[v.name], _dims(v)) for v in g.value_info),
    }


def initializer_values(model: onnx.ModelProto) -> list[list[np.ndarray]]:
    """Per node, the values of the initializers it reads, in order."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return [[inits[n] for n in node.input if n in inits] for node in model.graph.node]


def assert_same_graph(direct: onnx.ModelProto, exported: onnx.ModelProto) -> None:
    a, b = structure(direct), structure(exported)
    assert [n[0] for n in a["nodes"]] == [n[0] for n in b["nodes"]]  # the op sequence first
    assert a == b
    for mine, theirs in zip(initializer_values(direct), initializer_values(exported), strict=True):
        for x, y in zip(mine, theirs, strict=True):  # BN folded in float64 here, float32 there
            assert np.allclose(x, y, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(y).max()))


def assert_runs_like_torch(module: nn.Module, model: onnx.ModelProto, shapes) -> None:
    g = torch.Generator().manual_seed(1)
    xs = [torch.randn(s, generator=g) for s in shapes]
    with torch.no_grad():  # torch runs after the writing: writing must not change the module
        ref = module(*xs)
    refs = [t.numpy() for t in (ref if isinstance(ref, tuple) else (ref,))]
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), xs, strict=True)}
    outs = session.run(None, feed)
    assert len(outs) == len(refs)
    for out, want in zip(outs, refs, strict=True):
        assert out.shape == want.shape
        diff, scale = np.abs(out - want).max(), np.abs(want).max()
        assert diff <= 1e-4 * scale + 1e-5, f"max |diff| {diff} at {scale}"


def check(build, shapes, tmp_path) -> None:
    """(a) on the module as the profiler builds it (seeded weights, fresh BatchNorms, whose
    folded zero biases the exporter shares), (b) on one with trained-looking BatchNorms."""
    fresh = build()
    assert_same_graph(direct_model(fresh, shapes), torchscript_model(fresh, shapes, tmp_path))
    trained = randomize(build())
    assert_runs_like_torch(trained, direct_model(trained, shapes), shapes)


def test_the_sample_covers_both_spaces_choices():
    for name in ("mnasnet", "mobilenetv3"):
        every = get_space(name).unique_layers(RESOLUTION)
        sample = [s for s in every if s.key in SPACE_LAYERS]
        for feature in FEATURES:
            assert {getattr(s, feature) for s in sample} == {getattr(s, feature) for s in every}
        assert {s.se_ratio > 0 for s in sample} == {s.se_ratio > 0 for s in every}


@pytest.mark.parametrize("key", LAYERS)
def test_a_layer_is_the_torchscript_exporters_graph_and_computes_the_same(key, tmp_path):
    spec = LayerSpec.from_key(key)
    check(layer_workload(spec).build, spec.input_shapes, tmp_path)


ARCHS = [
    get_named_arch("mnasnet-a1"),
    get_named_arch("mobilenetv3-large"),
    *sample_archs(get_space("mnasnet"), 1, seed=3, resolutions=(RESOLUTION,)),
    *sample_archs(get_space("mobilenetv3"), 1, seed=3, resolutions=(RESOLUTION,)),
]


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.short_id)
def test_a_whole_architecture_is_the_torchscript_exporters_graph(arch, tmp_path):
    arch = dataclasses.replace(arch, resolution=RESOLUTION)
    check(arch_workload(arch).build, [arch.input_shape], tmp_path)


def test_a_decomposed_network_is_the_torchscript_exporters_graph(tmp_path):
    graph = forked_graph()
    check(lambda: seeded(lambda: build_network(graph)), [graph.input_shape], tmp_path)


class Unknown(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.gelu(x)


def test_a_module_the_writer_does_not_know_is_exported_by_torchscript(tmp_path):
    def build():
        return seeded(lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), Unknown()))

    with pytest.raises(UnknownModule, match="1 of type Unknown"):
        onnx_bytes(build(), (1, 3, 8, 8), OPSET)
    path = onnx_path(Workload("unknown-layer", build, (1, 3, 8, 8)), tmp_path / "cache")
    model = onnx.load(path)
    assert model.producer_name == "pytorch"  # the TorchScript exporter's file
    assert structure(model) == structure(torchscript_model(build(), [(1, 3, 8, 8)], tmp_path))
    assert_runs_like_torch(build(), model, [(1, 3, 8, 8)])


def test_the_profilers_files_are_written_directly(tmp_path):
    """Fails on the TorchScript exporter alone (what every ONNX file was before)."""
    spec = LayerSpec.from_key(SPACE_LAYERS[1])
    path = onnx_path(Workload(spec.key, lambda: build_layer(spec), spec.input_shape), tmp_path)
    assert onnx.load(path).producer_name == PRODUCER
