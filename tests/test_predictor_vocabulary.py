"""The op vocabulary's extensions for networks outside the spaces, and the features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lut.modules import build_layer
from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from predictor.features import FEATURES, LAYER_COLUMNS, layer_cost, layer_row, network_features

EXTENDED = [
    "mbconv_k3_e2_se0_idskip_hswish_i80_o80_s1_in14x14_mid200",
    "dconv_k3_e1_se0.5_noskip_relu_i16_o16_s2_in112x112_gatehsigmoid",
    "mbconv_k5_e6_se0.0417_idskip_silu_i40_o40_s1_in28x28_seactsilu",
    "mbconv_k3_e4_se0.25_noskip_relu_i24_o24_s1_in28x28_mid88_sq24_gatehsigmoid",
    "fcact_k1_e1_se0_noskip_hswish_i576_o1024_s1_in1x1",
    "stem_k3_e1_se0_noskip_silu_i3_o32_s2_in224x224",
]


@pytest.mark.parametrize("key", EXTENDED)
def test_extended_keys_round_trip_and_build(key):
    spec = LayerSpec.from_key(key)
    assert spec.key == key
    with torch.no_grad():
        y = build_layer(spec)(torch.randn(spec.input_shape))
    assert y.shape[1] == spec.cout


def test_defaults_are_normalised_so_old_keys_keep_their_meaning():
    spec = LayerSpec(
        op="mbconv",
        kernel=3,
        expansion=6,
        se_ratio=0.25,
        skip="idskip",
        act="relu",
        cin=40,
        cout=40,
        stride=1,
        input_h=14,
        input_w=14,
        mid=240,
        se_squeeze=60,
        se_act="relu",
        se_gate="sigmoid",
    )
    assert spec.key == "mbconv_k3_e6_se0.25_idskip_relu_i40_o40_s1_in14x14"
    assert spec == LayerSpec(
        op="mbconv",
        kernel=3,
        expansion=6,
        se_ratio=0.25,
        skip="idskip",
        act="relu",
        cin=40,
        cout=40,
        stride=1,
        input_h=14,
        input_w=14,
    )
    hs = LayerSpec(
        op="conv",
        kernel=3,
        expansion=1,
        se_ratio=0.25,
        skip="noskip",
        act="hswish",
        cin=16,
        cout=16,
        stride=1,
        input_h=8,
        input_w=8,
        se_gate="hsigmoid",
    )
    assert "gate" not in hs.key


def test_mid_changes_the_module():
    spec = LayerSpec.from_key(EXTENDED[0])
    convs = [m for m in build_layer(spec).modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].out_channels == 200 and convs[1].groups == 200


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(op="conv", mid=48), "only for mbconv"),
        (dict(op="mbconv", expansion=6, mid=88), "round"),
        (dict(op="mbconv", expansion=3, se_act="silu"), "need an se_ratio"),
        (dict(op="mbconv", expansion=3, se_ratio=0.25, se_gate="tanh"), "se_gate"),
    ],
)
def test_inconsistent_extensions_are_refused(kwargs, match):
    base = dict(
        op="mbconv",
        kernel=3,
        expansion=1,
        se_ratio=0.0,
        skip="noskip",
        act="relu",
        cin=24,
        cout=24,
        stride=1,
        input_h=14,
        input_w=14,
    )
    with pytest.raises(LutnasError, match=match):
        LayerSpec(**{**base, **kwargs})


def test_layer_costs_match_the_built_module():
    for key in EXTENDED[:4] + ["conv_k5_e1_se0.25_poolskip_relu_i32_o48_s2_in28x28"]:
        spec = LayerSpec.from_key(key)
        _, params_m, _ = layer_cost(spec)
        real = sum(p.numel() for p in build_layer(spec).parameters()) / 1e6
        # BN's scale and shift are folded away at inference; the analytic count keeps one bias.
        bn = (
            sum(
                m.num_features
                for m in build_layer(spec).modules()
                if isinstance(m, torch.nn.BatchNorm2d)
            )
            / 1e6
        )
        assert params_m == pytest.approx(real - bn, rel=0.02), key


def test_network_features_shapes_and_shares():
    specs = [LayerSpec.from_key(k) for k in EXTENDED]
    rows = np.array([layer_row(s, 1.0 + i, i == 2, 224) for i, s in enumerate(specs)])
    assert rows.shape == (len(specs), len(LAYER_COLUMNS))
    x = network_features(rows.sum(0), np.array([224]))
    assert x.shape == (1, len(FEATURES))
    f = dict(zip(FEATURES, x[0], strict=False))
    assert f["lut_ms"] == pytest.approx(sum(1.0 + i for i in range(len(specs))))
    assert f["share_mbconv"] + f["share_dconv"] + f["share_stem"] + f["share_fc"] == pytest.approx(
        1.0
    )
    assert f["n_layers"] == len(specs)


GRAPH_UNITS = [
    "basic_k3_e1_se0_convskip_relu_i64_o128_s2_in56x56_postrelu",
    "bottleneck_k3_e2_se0.1667_convskip_relu_i32_o48_s2_in112x112_mid48_g6_postrelu",
    "bottleneck_k3_e1_se0_idskip_relu_i256_o256_s1_in56x56_mid64_postrelu",
    "conv_k3_e1_se0_noskip_none_i58_o58_s2_in56x56_g58",
    "conv_k3_e1_se0_noskip_relu_i16_o64_s1_in55x55_nobn",
    "stem_k7_e1_se0_noskip_relu_i3_o96_s2_in224x224_pad0_nobn",
]


@pytest.mark.parametrize("key", GRAPH_UNITS)
def test_graph_unit_costs_match_the_built_module(key):
    from torch.utils.flop_counter import FlopCounterMode

    spec = LayerSpec.from_key(key)
    module = build_layer(spec)
    macs_m, params_m, _ = layer_cost(spec)
    bn = sum(m.num_features for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d))
    real = sum(p.numel() for p in module.parameters())
    assert params_m * 1e6 == pytest.approx(real - bn, abs=0.5)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.randn(spec.input_shape))
    convs = counter.get_total_flops() / 2
    # the analytic count adds the residual add and SE's pooling and gating to the convs
    extra = spec.cout * spec.output_hw[0] * spec.output_hw[1] if spec.skip != "noskip" else 0
    if spec.se_ratio:
        extra += 2 * spec.se_channels * spec.output_hw[0] * spec.output_hw[1]
    assert macs_m * 1e6 == pytest.approx(convs + extra, rel=1e-6)


def test_pooling_and_join_units_have_costs_and_their_own_groups():
    keys = [
        "maxpool_k3_e1_se0_noskip_none_i64_o64_s2_in112x112",
        "gpool_k1_e1_se0_noskip_none_i512_o512_s1_in7x7",
        "add_k1_e1_se0_noskip_relu_i64_o64_s1_in56x56",
        "concat_k1_e1_se0_noskip_none_i116_o116_s1_in28x28_parts58-58",
        "shuffle_k1_e1_se0_noskip_none_i116_o116_s1_in28x28_g2",
    ]
    specs = [LayerSpec.from_key(k) for k in keys]
    assert layer_cost(specs[0])[0] == pytest.approx(9 * 64 * 56 * 56 / 1e6)
    assert layer_cost(specs[3])[:2] == (0.0, 0.0) and layer_cost(specs[3])[2] > 0
    x = network_features(np.sum([layer_row(s, 1.0, False, 224) for s in specs], 0), [224])
    f = dict(zip(FEATURES, x[0], strict=True))
    assert (f["share_pool"], f["share_eltwise"], f["share_move"]) == pytest.approx((0.4, 0.2, 0.4))
    assert f["share_act_relu"] == pytest.approx(0.2)  # only the add has an activation
