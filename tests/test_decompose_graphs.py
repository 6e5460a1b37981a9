"""Networks that fork and join: torchvision's mobile classification networks decompose into LUT
layers (residual blocks, pools, concat, split, shuffle, ...) with nothing dropped, checked by
rebuilding the layers and counting parameters and MACs exactly.

Networks are built on the meta device (shapes only: nothing is computed, nothing downloaded),
so checking all of them costs seconds.
"""

from __future__ import annotations

import collections

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lut.network import build_network
from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from predictor.decompose import decompose_module, mapped_modules
from profiler.torchvision_nets import FAMILIES, MOBILE_NETWORKS, expand_names
from profiler.torchvision_nets import build_network as build_torchvision

SHAPE = (1, 3, 224, 224)


def flops(module: nn.Module) -> int:
    with FlopCounterMode(display=False) as counter:
        module(torch.empty(SHAPE, device="meta"))
    return counter.get_total_flops()


def computing_nodes(model: nn.Module) -> tuple[set[str], set[str]]:
    """The traced graph's nodes that give tensors, and those of them that are no-ops
    (dropout, flatten, views: free at inference)."""
    from torch import fx
    from torch.fx.passes.shape_prop import ShapeProp

    from predictor.decompose.primitives import _classify, _Tracer

    gm = fx.GraphModule(model, _Tracer().trace(model))
    ShapeProp(gm).propagate(torch.empty(SHAPE, device="meta"))
    modules = dict(gm.named_modules())
    tensors, free = set(), set()
    for n in gm.graph.nodes:
        if n.op in ("call_module", "call_function", "call_method") and "tensor_meta" in n.meta:
            tensors.add(n.name)
            if _classify(n, modules)[0] == "noop":
                free.add(n.name)
    return tensors, free


@pytest.fixture(scope="module", params=MOBILE_NETWORKS)
def decomposed(request):
    model = build_torchvision(request.param, device="meta")
    return request.param, model, decompose_module(model, SHAPE)


def test_every_node_is_in_exactly_one_layer(decomposed):
    name, model, d = decomposed
    nodes = [n for ns in d.nodes for n in ns]
    assert len(nodes) == len(set(nodes)), "a graph node is in two layers"
    tensors, free = computing_nodes(model)
    assert set(nodes) <= tensors - free
    assert tensors - set(nodes) == free  # in no layer: only what is free at inference
    called = mapped_modules(model) - set(d.unused)
    assert called <= d.covered(), called - d.covered()
    assert d.unused == ([] if name != "googlenet" else sorted(
        m for m in mapped_modules(model) if m.startswith(("aux1.", "aux2."))))  # fmt: skip


def test_rebuilt_layers_have_the_parameters_and_macs_of_the_network(decomposed):
    name, model, d = decomposed
    with torch.device("meta"):
        rebuilt = build_network(d.graph())
    unused = tuple(f"{m}." for m in d.unused)
    params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(unused))
    assert sum(p.numel() for p in rebuilt.parameters()) == params
    assert flops(rebuilt) == flops(model)
    assert tuple(rebuilt(torch.empty(SHAPE, device="meta")).shape) == (1, 1000)
    for spec in d.specs:
        assert LayerSpec.from_key(spec.key) == spec


def test_layers_of_known_networks():
    def ops(name):
        d = decompose_module(build_torchvision(name, "meta"), SHAPE)
        return d, collections.Counter(s.op for s in d.specs)

    d, count = ops("resnet18")
    keys = [s.key for s in d.specs]
    assert keys[:3] == [
        "stem_k7_e1_se0_noskip_relu_i3_o64_s2_in224x224",
        "maxpool_k3_e1_se0_noskip_none_i64_o64_s2_in112x112",
        "basic_k3_e1_se0_idskip_relu_i64_o64_s1_in56x56_postrelu",
    ]
    assert "basic_k3_e1_se0_convskip_relu_i64_o128_s2_in56x56_postrelu" in keys
    assert keys[-2:] == [
        "gpool_k1_e1_se0_noskip_none_i512_o512_s1_in7x7",
        "fc_k1_e1_se0_noskip_relu_i512_o1000_s1_in1x1",
    ]
    d, count = ops("resnet50")
    assert count["bottleneck"] == 16
    assert "bottleneck_k3_e1_se0_convskip_relu_i64_o256_s1_in56x56_postrelu" in {
        s.key for s in d.specs
    }
    d, count = ops("regnet_y_400mf")
    first = next(s for s in d.specs if s.op == "bottleneck")
    assert first.key == (
        "bottleneck_k3_e2_se0.1667_convskip_relu_i32_o48_s2_in112x112_mid48_g6_postrelu"
    )
    d, count = ops("shufflenet_v2_x1_0")
    assert count["split"] == 13 and count["concat"] == 16 and count["shuffle"] == 16
    assert "shuffle_k1_e1_se0_noskip_none_i116_o116_s1_in28x28_g2" in {s.key for s in d.specs}
    # a split's two outputs go to different layers: the concat and the branch's first conv
    split = next(i for i, s in enumerate(d.specs) if s.op == "split")
    readers = [(j, k) for j, srcs in enumerate(d.inputs) for k, src in enumerate(srcs)
               if src[0] == split]  # fmt: skip
    assert sorted(d.inputs[j][k][1] for j, k in readers) == [0, 1]
    d, count = ops("squeezenet1_0")
    assert d.specs[0].key == "stem_k7_e1_se0_noskip_relu_i3_o96_s2_in224x224_pad0_nobn"
    assert d.specs[1].key == "maxpool_k3_e1_se0_noskip_none_i96_o96_s2_in109x109_pad0"
    d, count = ops("googlenet")
    assert count["concat"] == 9
    assert "concat_k1_e1_se0_noskip_none_i256_o256_s1_in28x28_parts64-128-32-32" in {
        s.key for s in d.specs
    }
    assert "maxpool_k3_e1_se0_noskip_none_i64_o64_s2_in112x112_pad0_ceil" in {
        s.key for s in d.specs
    }


def test_a_real_network_decomposes_like_its_meta_twin():
    real = build_torchvision("resnet18")
    meta = build_torchvision("resnet18", "meta")
    shape = (1, 3, 96, 96)
    a, b = decompose_module(real, shape), decompose_module(meta, shape)
    assert [s.key for s in a.specs] == [s.key for s in b.specs] and a.inputs == b.inputs


def test_network_names_and_families():
    assert len(MOBILE_NETWORKS) == 27 and set(FAMILIES["resnet"]) < set(MOBILE_NETWORKS)
    assert expand_names("resnet18, shufflenet,resnet18") == ["resnet18", *FAMILIES["shufflenet"]]
    with pytest.raises(LutnasError, match="torchvision has no model 'resnet19'"):
        expand_names("resnet19")
