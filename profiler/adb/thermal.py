"""When a phone is too hot or throttled to time, and waiting until it is not.

Throttling shows in cpufreq as the governor's cap (``scaling_max_freq``) or the running clock
(``scaling_cur_freq``) of a pinned core dropping below its ``cpuinfo_max_freq``. An idle core
also clocks down, so by default only the cap counts (``watch_cur_freq=False``); the current
frequency is always logged. A watched thermal zone above ``hot_temp_c`` counts too.

Some sensors never cool (a battery or modem zone that reads hot all day, a broken sensor): a
zone still above the threshold after a whole ``max_wait_s`` is *stuck*. The caller leaves it out
of later decisions (``excluded``), so one such zone costs one wait per run, not one per batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from profiler.adb.probe import CpuState

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CoolingPolicy:
    min_freq_ratio: float = 0.95  # a pinned core clocked below this share of its max is throttled
    hot_temp_c: float = 75.0  # a watched thermal zone above this is hot
    watch_cur_freq: bool = False  # also count scaling_cur_freq (only on fixed-clock governors)
    step_s: float = 30.0  # pause this long, then look again ...
    max_wait_s: float = 600.0  # ... for at most this long, then go on with a warning
    zones: tuple[str, ...] = field(default_factory=tuple)  # watch zones naming one of these

    def watches(self, zone: str) -> bool:
        """Whether ``zone`` ("thermal_zone3:cpu-1-0") counts: all zones, or those whose name
        contains one of :attr:`zones`."""
        return not self.zones or any(z in zone for z in self.zones)


def hot_zones(
    state: CpuState, policy: CoolingPolicy, excluded: Collection[str] = ()
) -> dict[str, float]:
    """The watched, not excluded zones above ``hot_temp_c``: zone -> °C."""
    return {
        zone: celsius
        for zone, celsius in sorted(state.temps_c.items())
        if celsius > policy.hot_temp_c and policy.watches(zone) and zone not in excluded
    }


def throttle_reasons(
    state: CpuState, cores: list[int], policy: CoolingPolicy, excluded: Collection[str] = ()
) -> list[str]:
    """Why ``state`` is unfit for timing on ``cores`` (empty: fit); ``excluded`` zones do not
    count."""
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
    for zone, celsius in hot_zones(state, policy, excluded).items():
        reasons.append(f"{zone} at {celsius:.1f} °C (> {policy.hot_temp_c:.0f} °C)")
    return reasons


@dataclass(frozen=True)
class Cooling:
    """The outcome of :func:`wait_until_cool`."""

    state: CpuState  # the last reading
    waited_s: float
    reasons: list[str]  # still standing (non-empty only when max_wait_s ran out)
    stuck_zones: dict[str, float]  # zones still hot after the whole wait: zone -> °C


def wait_until_cool(
    read_state: Callable[[], CpuState],
    cores: list[int],
    policy: CoolingPolicy,
    sleep: Callable[[float], None],
    excluded: Collection[str] = (),
) -> Cooling:
    """Pause while the phone is throttled, at most ``policy.max_wait_s``; ``sleep(seconds)``
    pauses (a test's clock, or one that shows progress)."""
    waited_s = 0.0
    state = read_state()
    reasons = throttle_reasons(state, cores, policy, excluded)
    while reasons and waited_s < policy.max_wait_s:
        log.warning(
            "phone throttled (%s); cooling down for %.0f s", "; ".join(reasons), policy.step_s
        )
        sleep(policy.step_s)
        waited_s += policy.step_s
        state = read_state()
        reasons = throttle_reasons(state, cores, policy, excluded)
    if reasons:
        log.warning(
            "still throttled after %.0f s (%s); measuring anyway", waited_s, "; ".join(reasons)
        )
    stuck = hot_zones(state, policy, excluded) if reasons else {}
    return Cooling(state, waited_s, reasons, stuck)
