"""Torch modules → LayerSpecs: torchvision networks map completely, Arch modules map back."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm
from torch import nn

from lut.modules import build_layer
from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import ConvOp, get_space
from predictor.decompose import decompose_module, mapped_modules
from predictor.evaluate import TORCHVISION


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_networks_map_every_layer(name):
    model = getattr(tvm, name)(weights=None)
    d = decompose_module(model, (1, 3, 224, 224))
    covered = [m for ms in d.members for m in ms]
    assert len(covered) == len(set(covered)), "a module is in two LayerSpecs"
    assert mapped_modules(model) <= set(covered), mapped_modules(model) - set(covered)
    # The LUT layers rebuild the network: same parameter count, shapes chain.
    assert sum(p.numel() for s in d.specs for p in build_layer(s).parameters()) == sum(
        p.numel() for p in model.parameters()
    )
    for spec in d.specs:
        assert LayerSpec.from_key(spec.key) == spec
    for a, b in zip(d.specs, d.specs[1:], strict=False):
        assert a.cout == b.cin
        if b.op not in ("fc", "fcact") and a.op != "head":
            assert a.output_hw == (b.input_h, b.input_w)
    assert d.specs[0].op == "stem" and d.specs[-1].op == "fc"


def test_expected_layers_of_known_networks():
    keys = [s.key for s in decompose_module(tvm.mobilenet_v3_small(weights=None)).specs]
    assert keys[1] == "dconv_k3_e1_se0.5_noskip_relu_i16_o16_s2_in112x112_gatehsigmoid"
    assert keys[-2] == "fcact_k1_e1_se0_noskip_hswish_i576_o1024_s1_in1x1"
    eff = [s.key for s in decompose_module(tvm.efficientnet_b0(weights=None)).specs]
    assert eff[0] == "stem_k3_e1_se0_noskip_silu_i3_o32_s2_in224x224"
    assert eff[3] == "mbconv_k3_e6_se0.0417_idskip_silu_i24_o24_s1_in56x56_seactsilu"
    v2 = decompose_module(tvm.mobilenet_v2(weights=None), (1, 3, 160, 160)).specs
    assert sum(s.skip == "idskip" for s in v2) == 10 and v2[0].input_h == 160


@pytest.mark.parametrize(
    "arch",
    [
        get_named_arch("mnasnet-a1"),
        *sample_archs(get_space("mnasnet"), 6, seed=7, resolutions=(160, 224)),
    ],
    ids=lambda a: a.short_id,
)
def test_an_arch_module_decomposes_to_its_own_layers(arch):
    d = decompose_module(arch.build(), arch.input_shape)
    assert [s.key for s in d.specs] == [s.key for s in arch.layers()]


def test_every_skip_and_se_variant_round_trips():
    space = get_space("mnasnet")
    for skip in ("noskip", "idskip", "poolskip"):
        for op, e in (("conv", 1), ("dconv", 1), ("mbconv", 3)):
            for se in (0.0, 0.25):
                specs = [
                    space.stem_spec(64),
                    space.block_layer(
                        ConvOp(op, e),
                        3,
                        se,
                        skip,
                        32,
                        32,
                        1,
                        32,
                    ),
                    space.block_layer(
                        ConvOp(op, e),
                        5,
                        se,
                        skip,
                        32,
                        48,
                        2,
                        32,
                    ),
                ]
                model = nn.Sequential(*(build_layer(s) for s in specs))
                got = decompose_module(model, (1, 3, 64, 64)).specs
                assert [s.key for s in got] == [s.key for s in specs]


def test_an_unmappable_network_is_an_error_naming_the_part():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.gelu = nn.GELU()

        def forward(self, x):
            return self.gelu(self.conv(x)).sort(dim=1).values

    with pytest.raises(LutnasError, match=r"cannot map node gelu \(module GELU\)"):
        decompose_module(Odd(), (1, 3, 16, 16))
    odd = nn.Sequential(nn.Conv2d(3, 8, (1, 5), padding=(0, 2)), nn.ReLU())
    with pytest.raises(LutnasError, match=r"cannot map conv _0 \(0, 1;.*.k.: \(1, 5\)"):
        decompose_module(odd, (1, 3, 16, 16))
    viewed = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Unflatten(1, (2, 4)))
    with pytest.raises(LutnasError, match="Unflatten"):
        decompose_module(viewed, (1, 3, 16, 16))


def test_decomposing_keeps_the_training_mode():
    model = tvm.mobilenet_v3_small(weights=None).train()
    decompose_module(model, (1, 3, 96, 96))
    assert model.training
    with torch.no_grad():
        model.eval()(torch.randn(1, 3, 96, 96))
