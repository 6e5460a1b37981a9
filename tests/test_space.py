"""The mnasnet space: choices, unique-layer enumeration, Arch JSON and token forms."""

import dataclasses
import json
import random

import pytest

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch, BlockChoice
from lutnas.spaces.named import get_named_arch, list_named_archs
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space, register_space, round_channels


def test_width_choices_are_multipliers_of_mobilenetv2_rounded_to_8():
    space = get_space("mnasnet")
    assert [s.channels for s in space.stages] == [16, 24, 32, 64, 96, 160, 320]
    assert space.width_choices(0) == (16, 24)  # 0.75×16 = 12 rounds to 16, same as 1.0×16
    assert space.width_choices(1) == (16, 24, 32)
    assert space.width_choices(4) == (72, 96, 120)
    assert space.width_choices(6) == (240, 320, 400)
    assert space.layer_choices(0) == (1, 2)  # base 1: {0→1, 1, 2}
    assert space.layer_choices(3) == (3, 4, 5)
    assert round_channels(18) == 16 and round_channels(20) == 24


def independent_count(space, resolution):
    """Closed form: per stage, 16 (op, kernel, SE) combos × skips, where identity skip merges
    into 'none' unless the shapes match; repeats only when a stage can have 2+ layers."""
    total = 1  # stem
    prev = (space.stem_channels,)
    for i, stage in enumerate(space.stages):
        combos = len(stage.conv_ops) * len(stage.kernels) * len(stage.se_ratios)
        assert len(stage.skips) == 3
        widths = space.width_choices(i)
        for cin in prev:
            for cout in widths:
                same = cin == cout and stage.stride == 1
                total += combos * (3 if same else 2)
        if max(space.layer_choices(i)) > 1:
            total += combos * 3 * len(widths)
        prev = widths
    return total + len(prev) + 1  # one head per final width, one classifier


@pytest.mark.parametrize("resolution", [160, 192, 224, 96])
def test_unique_layer_count_matches_independent_count(resolution):
    space = get_space("mnasnet")
    assert len(space.unique_layers(resolution)) == independent_count(space, resolution)


def test_every_sampled_arch_uses_only_enumerated_layers():
    space = get_space("mnasnet")
    enumerated = {r: {s.key for s in space.unique_layers(r)} for r in space.resolutions}
    for arch in sample_archs(space, 200, seed=1):
        assert {s.key for s in arch.layers()} <= enumerated[arch.resolution]


def test_arch_json_and_token_round_trips():
    space = get_space("mnasnet")
    for arch in sample_archs(space, 100, seed=2):
        assert Arch.from_json(arch.to_json()) == arch
        assert Arch.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch
        tokens = arch.to_tokens()
        assert len(tokens) == len(space.decisions())
        assert Arch.from_tokens("mnasnet", tokens) == arch


def test_block_labels_round_trip():
    space = get_space("mnasnet")
    blocks = {b for arch in sample_archs(space, 100, seed=3) for b in arch.blocks}
    for block in blocks:
        assert BlockChoice.from_label(block.label()) == block
    a1 = get_named_arch("mnasnet-a1")
    assert a1.key.split(":")[1].split("|")[2] == "mbconv3_k5_se0.25_idskip_c40_n3"
    for bad in ["mbconv_k3_idskip_c16_n1", "conv6_k3_idskip_c16_n1", "dconv_k3_c16_n1", ""]:
        with pytest.raises(LutnasError, match="is not a block label"):
            BlockChoice.from_label(bad)


def test_tokens_cover_every_choice():
    space = get_space("mnasnet")
    rng = random.Random(0)
    for _ in range(50):
        tokens = [rng.randrange(n) for n in space.choice_counts()]
        assert Arch.from_tokens("mnasnet", tokens).to_tokens() == tokens


def test_named_archs():
    assert {"mnasnet-a1", "mobilenetv2-1.0"} <= set(list_named_archs())
    v2 = get_named_arch("mobilenetv2-1.0")
    assert v2.problems() == []  # MobileNetV2 1.0 is the space's base: in the space
    a1 = get_named_arch("mnasnet-a1")
    specs = a1.layers()
    assert len(specs) == 1 + 16 + 2  # stem, 1+2+3+4+2+3+1 block layers, head, classifier
    assert specs[1].key == "dconv_k3_e1_se0_noskip_relu_i32_o16_s1_in112x112"
    # A1's 112-wide stage is off the 0.75/1.0/1.25 grid: expressible, but without tokens.
    assert a1.problems() == ["stage 4 channels 112 not in (72, 96, 120)"]
    with pytest.raises(LutnasError, match="112"):
        a1.to_tokens()


def test_identity_skip_is_dropped_where_the_shape_changes():
    a1 = get_named_arch("mnasnet-a1")
    block1 = [s for s in a1.layers() if s.cout == 24]
    assert [s.skip for s in block1] == ["noskip", "idskip"]  # stride-2 first layer, then id
    assert [s.stride for s in block1] == [2, 1]


def test_bad_inputs_give_clear_errors():
    with pytest.raises(LutnasError, match="unknown search space 'nope'.*mnasnet"):
        get_space("nope")
    v2 = get_named_arch("mobilenetv2-1.0")
    with pytest.raises(LutnasError, match="resolution 225"):
        Arch("mnasnet", 225, v2.blocks)
    with pytest.raises(LutnasError, match="7 stages"):
        Arch("mnasnet", 224, v2.blocks[:3])
    with pytest.raises(LutnasError, match="not an architecture record"):
        Arch.from_dict({"space": "mnasnet"})
    with pytest.raises(LutnasError, match="takes 43 tokens"):
        Arch.from_tokens("mnasnet", [0, 1])
    assert register_space(get_space("mnasnet")) is get_space("mnasnet")  # the same space
    changed = dataclasses.replace(get_space("mnasnet"), resolutions=(224,))
    with pytest.raises(LutnasError, match="resolutions: the built-in space file has"):
        register_space(changed)
    with pytest.raises(LutnasError, match="unknown architecture"):
        get_named_arch("resnet50")
