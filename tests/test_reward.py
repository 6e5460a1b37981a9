"""MnasNet reward against hand-computed values (T = 75 ms, the paper's Pixel 1 target)."""

import math

import pytest

from lutnas.errors import LutnasError
from search.reward import PRESETS, MnasReward, make_reward, mnas_reward

T_MS = 75.0


# --- soft: alpha = beta = -0.07 ---------------------------------------------------------------


def test_soft_slower_than_target_loses_reward():
    # 0.75 * (150 / 75)^-0.07 = 0.75 * exp(-0.07 ln 2) = 0.75 * 0.9526380 = 0.7144785
    assert make_reward(T_MS, "soft")(0.75, 150.0) == pytest.approx(0.7144785, rel=1e-6)


def test_soft_faster_than_target_gains_reward():
    # 0.75 * (37.5 / 75)^-0.07 = 0.75 * exp(0.07 ln 2) = 0.75 * 1.0497167 = 0.7872875
    assert make_reward(T_MS, "soft")(0.75, 37.5) == pytest.approx(0.7872875, rel=1e-6)


# --- hard: alpha = 0, beta = -1 ---------------------------------------------------------------


def test_hard_under_target_is_accuracy():
    reward = make_reward(T_MS, "hard")
    assert reward(0.75, 30.0) == 0.75
    assert reward(0.75, 1.0) == 0.75


def test_hard_over_target_scales_by_target_over_latency():
    reward = make_reward(T_MS, "hard")
    assert reward(0.75, 150.0) == pytest.approx(0.375)  # 0.75 * 75 / 150
    assert reward(0.6, 100.0) == pytest.approx(0.45)  # 0.6 * 75 / 100
    assert reward(0.75, 75.0 * 1.001) == pytest.approx(0.75 / 1.001)  # just over T: beta


@pytest.mark.parametrize(
    "reward",
    [
        make_reward(T_MS, "soft"),
        make_reward(T_MS, "hard"),
        make_reward(T_MS, "custom", alpha=-0.5, beta=-3.0),
    ],
    ids=["soft", "hard", "custom"],
)
def test_at_target_reward_is_accuracy(reward):
    assert reward(0.73, T_MS) == pytest.approx(0.73, rel=1e-12)


def test_custom_uses_alpha_below_and_beta_above():
    reward = make_reward(100.0, "custom", alpha=-0.2, beta=-1.0)
    # 0.8 * 0.5^-0.2 = 0.8 * 2^0.2 = 0.8 * 1.1486984 = 0.9189587
    assert reward(0.8, 50.0) == pytest.approx(0.9189587, rel=1e-6)
    assert reward(0.8, 200.0) == pytest.approx(0.4)  # 0.8 * 0.5^1


def test_mobilenetv3_small_weight():
    # 0.9 * 0.8^-0.15 = 0.9 * exp(0.15 * 0.2231436) = 0.9 * 1.0340380 = 0.9306342
    reward = make_reward(100.0, "custom", alpha=-0.15, beta=-0.15)
    assert reward(0.9, 80.0) == pytest.approx(0.9306342, rel=1e-6)


def test_presets_are_the_papers():
    assert PRESETS == {"soft": (-0.07, -0.07), "hard": (0.0, -1.0)}
    soft = make_reward(T_MS)
    assert (soft.alpha, soft.beta, soft.preset, soft.target_ms) == (-0.07, -0.07, "soft", T_MS)


def test_function_matches_object():
    direct = mnas_reward(0.7, 90.0, T_MS, -0.07, -0.07)
    assert direct == make_reward(T_MS, "soft")(0.7, 90.0)
    assert direct < 0.7  # slower than T


def test_zero_accuracy_is_zero_reward():
    assert make_reward(T_MS, "soft")(0.0, 10.0) == 0.0


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("target_ms", [0.0, -75.0, math.nan, math.inf, "fast"])
def test_bad_target_rejected(target_ms):
    with pytest.raises(LutnasError, match="target_ms"):
        make_reward(target_ms, "soft")


@pytest.mark.parametrize("latency_ms", [0.0, -1.0, math.nan, math.inf, None])
def test_bad_latency_rejected(latency_ms):
    with pytest.raises(LutnasError, match="latency_ms"):
        make_reward(T_MS, "soft")(0.7, latency_ms)


@pytest.mark.parametrize("accuracy", [-0.01, 1.01, 75.0, math.nan])
def test_accuracy_outside_unit_interval_rejected(accuracy):
    with pytest.raises(LutnasError, match="accuracy"):
        make_reward(T_MS, "hard")(accuracy, 50.0)


def test_accuracy_bounds_accepted():
    reward = make_reward(T_MS, "hard")
    assert reward(1.0, 50.0) == 1.0
    assert reward(0.0, 50.0) == 0.0


def test_unknown_preset_names_the_choices():
    with pytest.raises(LutnasError, match="soft, hard, custom"):
        make_reward(T_MS, "medium")


def test_custom_needs_both_exponents():
    with pytest.raises(LutnasError, match="alpha and beta"):
        make_reward(T_MS, "custom", alpha=-0.1)


def test_named_preset_refuses_exponents():
    with pytest.raises(LutnasError, match="custom"):
        make_reward(T_MS, "hard", beta=-2.0)


def test_non_finite_exponent_rejected():
    with pytest.raises(LutnasError, match="beta"):
        make_reward(T_MS, "custom", alpha=-0.1, beta=math.inf)
    with pytest.raises(LutnasError, match="alpha"):
        MnasReward(T_MS, math.nan, -1.0)(0.5, 10.0)
