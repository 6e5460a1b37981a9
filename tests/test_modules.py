"""Every ConvOp × SE × skip builds and runs at its resolution; whole archs build and train."""

import itertools

import pytest
import torch

from lut.modules import build_layer
from lut.spec import LayerSpec
from spaces.named import get_named_arch
from spaces.sampling import sample_archs
from spaces.space import get_space

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
        spec = LayerSpec(op, kernel, expansion, se, skip, "relu", cin, cout, stride, 28, 28)
        with torch.no_grad():
            y = build_layer(spec)(torch.randn(spec.input_shape))
        assert tuple(y.shape) == (1, cout, *spec.output_hw), spec.key


def test_identity_and_pool_skips_change_the_function():
    torch.manual_seed(0)
    x = torch.randn(1, 24, 14, 14)
    outs = {}
    for skip in ["noskip", "idskip", "poolskip"]:
        torch.manual_seed(1)  # same weights for the main path
        spec = LayerSpec("mbconv", 3, 3, 0.0, skip, "relu", 24, 24, 1, 14, 14)
        with torch.no_grad():
            outs[skip] = build_layer(spec)(x)
    assert torch.allclose(outs["idskip"] - outs["noskip"], x, atol=1e-5)
    assert not torch.allclose(outs["poolskip"], outs["idskip"], atol=1e-3)


def test_head_and_classifier():
    head = LayerSpec("head", 1, 1, 0.0, "noskip", "relu", 320, 1280, 1, 7, 7)
    fc = LayerSpec("fc", 1, 1, 0.0, "noskip", "relu", 1280, 1000, 1, 1, 1)
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
