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
