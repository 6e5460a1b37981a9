"""Every ConvOp × SE × skip builds and runs at its resolution; whole archs build and train."""

import itertools

import pytest
import torch

from lut.modules import build_layer
from lut.spec import LayerSpec
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space

OPS = [("conv", 1), ("dconv", 1), ("mbconv", 3), ("mbconv", 6)]
# (cin, cout, stride): same shape, wider + stride 2, narrower at stride 1
SHAPES = [(24, 24, 1), (16, 24, 2), (40, 32, 1)]


@pytest.mark.parametrize("op,expansion", OPS)
@pytest.mark.parametrize("kernel", [3, 5])
def test_every_combination_runs_forward(op, expansion, kernel):
    for se, skip, (cin, cout, stride) in itertools.product(
        [0.0, 0.25], ["noskip", "idskip", "poolskip"], SHAPES
    ):
        if skip == "idskip" and (cin != cout or stride != 1):
            continue
        spec = LayerSpec(
            op=op,
            kernel=kernel,
            expansion=expansion,
            se_ratio=se,
            skip=skip,
            act="relu",
            cin=cin,
            cout=cout,
            stride=stride,
            input_h=28,
            input_w=28,
        )
        with torch.no_grad():
            y = build_layer(spec)(torch.randn(spec.input_shape))
        assert tuple(y.shape) == (1, cout, *spec.output_hw), spec.key


def test_identity_and_pool_skips_change_the_function():
    torch.manual_seed(0)
    x = torch.randn(1, 24, 14, 14)
    outs = {}
    for skip in ["noskip", "idskip", "poolskip"]:
        torch.manual_seed(1)  # same weights for the main path
        spec = LayerSpec(
            op="mbconv",
            kernel=3,
            expansion=3,
            se_ratio=0.0,
            skip=skip,
            act="relu",
            cin=24,
            cout=24,
            stride=1,
            input_h=14,
            input_w=14,
        )
        with torch.no_grad():
            outs[skip] = build_layer(spec)(x)
    assert torch.allclose(outs["idskip"] - outs["noskip"], x, atol=1e-5)
    assert not torch.allclose(outs["poolskip"], outs["idskip"], atol=1e-3)


def test_head_and_classifier():
    head = LayerSpec(
        op="head",
        kernel=1,
        expansion=1,
        se_ratio=0.0,
        skip="noskip",
        act="relu",
        cin=320,
        cout=1280,
        stride=1,
        input_h=7,
        input_w=7,
    )
    fc = LayerSpec(
        op="fc",
        kernel=1,
        expansion=1,
        se_ratio=0.0,
        skip="noskip",
        act="relu",
        cin=1280,
        cout=1000,
        stride=1,
        input_h=1,
        input_w=1,
    )
    with torch.no_grad():
        assert build_layer(fc)(build_layer(head)(torch.randn(head.input_shape))).shape == (1, 1000)


@pytest.mark.parametrize("name", ["mnasnet-a1", "mobilenetv2-1.0"])
def test_named_arch_runs_at_its_resolution(name):
    arch = get_named_arch(name)
    net = arch.build().eval()
    with torch.no_grad():
        assert net(torch.randn(arch.input_shape)).shape == (1, 1000)


def test_sampled_archs_are_trainable_at_their_resolution():
    for arch in sample_archs(get_space("mnasnet"), 3, seed=5):
        net = arch.build(num_classes=10)
        x = torch.randn(2, 3, arch.resolution, arch.resolution)
        loss = torch.nn.functional.cross_entropy(net(x), torch.tensor([1, 7]))
        loss.backward()
        grads = [p.grad for p in net.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads)
