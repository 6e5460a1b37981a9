"""When a phone is too hot or throttled to time, and waiting until it is not.

Throttling shows in cpufreq as the governor's cap (``scaling_max_freq``) or the running clock
(``scaling_cur_freq``) of a pinned core dropping below its ``cpuinfo_max_freq``. An idle core
also clocks down, so by default only the cap counts (``watch_cur_freq=False``); the current
frequency is always logged. A thermal zone above ``hot_temp_c`` counts too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from profiler.adb.probe import CpuState

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CoolingPolicy:
    min_freq_ratio: float = 0.95  # a pinned core clocked below this share of its max is throttled
    hot_temp_c: float = 75.0  # any thermal zone above this is hot
    watch_cur_freq: bool = False  # also count scaling_cur_freq (only on fixed-clock governors)
    step_s: float = 30.0  # pause this long, then look again ...
    max_wait_s: float = 600.0  # ... for at most this long, then go on with a warning


def throttle_reasons(state: CpuState, cores: list[int], policy: CoolingPolicy) -> list[str]:
    """Why ``state`` is unfit for timing on ``cores`` (empty: fit)."""
    reasons = []
    for cpu in cores:
        top = state.max_freq_khz.get(cpu)
        if not top:
            continue
        watched = [("capped", state.cap_freq_khz.get(cpu))]
        if policy.watch_cur_freq:
            watched.append(("running", state.cur_freq_khz.get(cpu)))
        for what, khz in watched:
            if khz is not None and khz < policy.min_freq_ratio * top:
                reasons.append(f"cpu{cpu} {what} at {khz // 1000} of {top // 1000} MHz")
    for zone, celsius in sorted(state.temps_c.items()):
        if celsius > policy.hot_temp_c:
            reasons.append(f"{zone} at {celsius:.1f} °C (> {policy.hot_temp_c:.0f} °C)")
    return reasons


def wait_until_cool(
    read_state: Callable[[], CpuState],
    cores: list[int],
    policy: CoolingPolicy,
    sleep: Callable[[float], None],
) -> tuple[CpuState, float, list[str]]:
    """Pause while the phone is throttled; returns the last state, the seconds paused and the
    reasons still standing (non-empty only when ``max_wait_s`` ran out)."""
    waited_s = 0.0
    state = read_state()
    reasons = throttle_reasons(state, cores, policy)
    while reasons and waited_s < policy.max_wait_s:
        log.warning(
            "phone throttled (%s); cooling down for %.0f s", "; ".join(reasons), policy.step_s
        )
        sleep(policy.step_s)
        waited_s += policy.step_s
        state = read_state()
        reasons = throttle_reasons(state, cores, policy)
    if reasons:
        log.warning(
            "still throttled after %.0f s (%s); measuring anyway", waited_s, "; ".join(reasons)
        )
    return state, waited_s, reasons
