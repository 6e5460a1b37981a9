"""The LayerSpec key grammar: canonical, round-trips, refuses what it cannot mean."""

import pytest

from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from lutnas.spaces.space import get_space


@pytest.mark.parametrize("resolution", [160, 192, 224])
def test_every_layer_of_the_space_round_trips(resolution):
    specs = get_space("mnasnet").unique_layers(resolution)
    keys = [s.key for s in specs]
    assert len(set(keys)) == len(keys)
    for spec in specs:
        assert LayerSpec.from_key(spec.key) == spec


def test_key_text_is_the_documented_grammar():
    spec = LayerSpec(
        op="mbconv",
        kernel=5,
        expansion=6,
        se_ratio=0.25,
        skip="idskip",
        act="relu",
        cin=40,
        cout=40,
        stride=1,
        input_h=28,
        input_w=28,
    )
    assert spec.key == "mbconv_k5_e6_se0.25_idskip_relu_i40_o40_s1_in28x28"
    assert LayerSpec(
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
    ).key == ("fc_k1_e1_se0_noskip_relu_i1280_o1000_s1_in1x1")


@pytest.mark.parametrize(
    "bad",
    [
        "mbconv_k5_e6_se0.25_idskip_relu_i40_o40_s1",  # missing field
        "mbconv_k5_e6_se0.250_idskip_relu_i40_o40_s1_in28x28",  # not canonical
        "warp_k5_e1_se0_noskip_relu_i40_o40_s1_in28x28",  # unknown op
        "mbconv_k4_e6_se0_noskip_relu_i40_o40_s1_in28x28",  # even kernel
        "",
    ],
)
def test_bad_keys_are_refused_with_a_reason(bad):
    with pytest.raises(LutnasError):
        LayerSpec.from_key(bad)


def test_identity_skip_across_a_shape_change_is_refused():
    with pytest.raises(LutnasError, match="identity skip needs matching shapes"):
        LayerSpec(
            op="mbconv",
            kernel=3,
            expansion=6,
            se_ratio=0.0,
            skip="idskip",
            act="relu",
            cin=16,
            cout=24,
            stride=2,
            input_h=112,
            input_w=112,
        )
    with pytest.raises(LutnasError, match="identity skip"):
        LayerSpec(
            op="conv",
            kernel=3,
            expansion=1,
            se_ratio=0.0,
            skip="idskip",
            act="relu",
            cin=24,
            cout=24,
            stride=2,
            input_h=56,
            input_w=56,
        )


def test_expansion_only_for_mbconv():
    with pytest.raises(LutnasError, match="expansion"):
        LayerSpec(
            op="conv",
            kernel=3,
            expansion=6,
            se_ratio=0.0,
            skip="noskip",
            act="relu",
            cin=24,
            cout=24,
            stride=1,
            input_h=56,
            input_w=56,
        )


def test_output_size_follows_stride():
    spec = LayerSpec(
        op="dconv",
        kernel=5,
        expansion=1,
        se_ratio=0.0,
        skip="noskip",
        act="relu",
        cin=24,
        cout=40,
        stride=2,
        input_h=57,
        input_w=56,
    )
    assert spec.output_hw == (29, 28)
