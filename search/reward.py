"""The MnasNet reward: accuracy traded against latency around a target T.

    R(m) = ACC(m) · (LAT(m) / T)^w,   w = α if LAT(m) ≤ T else β

Presets (Tan et al., MnasNet, 2019):

- ``soft``: α = β = −0.07. A model twice as slow as T loses about 5% of its reward, one twice
  as fast gains about 5%; the search explores both sides of T.
- ``hard``: α = 0, β = −1. Below T only accuracy counts; above T the reward falls as T / LAT.
- ``custom``: the caller gives α and β (MobileNetV3-Small used α = β = −0.15).

T is in milliseconds and belongs to the device and backend the latency LUT was measured on.
At LAT == T the weight is α, and (LAT / T)^α = 1, so R = ACC exactly under every preset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lutnas.errors import LutnasError

# (alpha, beta) for each named preset; "custom" takes both from the caller.
PRESETS: dict[str, tuple[float, float]] = {
    "soft": (-0.07, -0.07),  # MnasNet soft constraint
    "hard": (0.0, -1.0),  # MnasNet hard constraint
}
CUSTOM = "custom"


def _check_positive_ms(value: float, what: str) -> float:
    """Return ``value`` as float if it is a finite number > 0 ms, else raise LutnasError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LutnasError(f"{what} must be a number of milliseconds, got {value!r}") from None
    if not math.isfinite(number) or number <= 0.0:
        raise LutnasError(f"{what} must be a finite latency > 0 ms, got {value!r}")
    return number


def _check_exponent(value: float, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LutnasError(f"reward exponent {what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise LutnasError(f"reward exponent {what} must be finite, got {value!r}")
    return number


@dataclass(frozen=True)
class MnasReward:
    """R = ACC · (LAT / T)^w with w = ``alpha`` if LAT ≤ T else ``beta``.

    Build it with :func:`make_reward`, which validates the arguments.

    Attributes:
        target_ms: the latency target T in milliseconds (> 0).
        alpha: exponent applied when LAT ≤ T.
        beta: exponent applied when LAT > T.
        preset: the preset name this came from (``soft``, ``hard`` or ``custom``), for records.
    """

    target_ms: float
    alpha: float
    beta: float
    preset: str = CUSTOM

    def __call__(self, accuracy: float, latency_ms: float) -> float:
        """The reward of one model.

        Args:
            accuracy: a fraction in [0, 1] (not a percentage).
            latency_ms: the model's (predicted or measured) latency in ms, > 0.

        Raises:
            LutnasError: accuracy outside [0, 1] or not finite; latency not a finite value > 0.
        """
        return mnas_reward(accuracy, latency_ms, self.target_ms, self.alpha, self.beta)


def mnas_reward(
    accuracy: float, latency_ms: float, target_ms: float, alpha: float, beta: float
) -> float:
    """R = accuracy · (latency_ms / target_ms)^w, w = alpha if latency_ms ≤ target_ms else beta.

    Raises:
        LutnasError: accuracy outside [0, 1]; latency or target not a finite value > 0 ms;
            a non-finite exponent.
    """
    try:
        acc = float(accuracy)
    except (TypeError, ValueError):
        raise LutnasError(f"accuracy must be a number in [0, 1], got {accuracy!r}") from None
    if not (0.0 <= acc <= 1.0):  # also refuses NaN
        raise LutnasError(
            f"accuracy must be a fraction in [0, 1], got {accuracy!r} (divide a percentage by 100)"
        )
    lat = _check_positive_ms(latency_ms, "latency_ms")
    target = _check_positive_ms(target_ms, "target_ms (T)")
    weight = _check_exponent(alpha, "alpha") if lat <= target else _check_exponent(beta, "beta")
    return acc * (lat / target) ** weight


def make_reward(
    target_ms: float,
    preset: str = "soft",
    alpha: float | None = None,
    beta: float | None = None,
) -> MnasReward:
    """Build a validated :class:`MnasReward`.

    Args:
        target_ms: latency target T in ms, > 0.
        preset: ``soft``, ``hard`` or ``custom``.
        alpha: exponent for LAT ≤ T; only with ``preset="custom"`` (required there).
        beta: exponent for LAT > T; only with ``preset="custom"`` (required there).

    Raises:
        LutnasError: unknown preset; α/β missing for ``custom`` or given with a named preset;
            T not a finite value > 0 ms.
    """
    target = _check_positive_ms(target_ms, "target_ms (T)")
    if preset == CUSTOM:
        if alpha is None or beta is None:
            raise LutnasError("reward preset 'custom' needs both alpha and beta")
        return MnasReward(
            target, _check_exponent(alpha, "alpha"), _check_exponent(beta, "beta"), CUSTOM
        )
    if preset not in PRESETS:
        known = ", ".join([*PRESETS, CUSTOM])
        raise LutnasError(f"unknown reward preset {preset!r}; choose one of: {known}")
    if alpha is not None or beta is not None:
        raise LutnasError(
            f"reward preset {preset!r} fixes alpha and beta; use preset 'custom' to set them"
        )
    preset_alpha, preset_beta = PRESETS[preset]
    return MnasReward(target, preset_alpha, preset_beta, preset)
