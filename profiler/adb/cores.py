"""Which cores a phone really has, and whether the fastest can be told from what it lists.

``cpuinfo_max_freq`` exists only for cores whose cpufreq the kernel shows: an offline core (a
phone in a power-saving mode, a hotplug governor that parks the big cluster) or a vendor kernel
that hides a cluster's cpufreq leaves those cores out, and the fastest *listed* core may then be
a little one. ``cpu/possible`` names every core the SoC has and ``cpu/online`` those switched
on; a core in ``possible`` that is offline or has no cpufreq is *unaccounted*.
"""

from __future__ import annotations

from lutnas.errors import LutnasError
from profiler.adb.probe import CpuState


def unaccounted_cores(state: CpuState) -> dict[int, str]:
    """Cores of ``cpu/possible`` the choice of the fastest cannot see: core -> 'offline' or
    'no cpufreq'. Empty when ``possible`` is unknown (nothing to compare with)."""
    online = set(state.online)
    out = {}
    for cpu in state.possible:
        if online and cpu not in online:
            out[cpu] = "offline"
        elif cpu not in state.max_freq_khz:
            out[cpu] = "no cpufreq"
    return out


def _ranges(cores) -> str:
    return ", ".join(f"cpu{c}" for c in sorted(cores))


def check_cores(state: CpuState, serial: str, mask_cores: list[int] | None) -> None:
    """Refuse to pick cores blind: without a mask, every core of ``cpu/possible`` must be online
    and listed by cpufreq; with one, its cores must be online.

    Raises:
        LutnasError: naming the cores, why they are unaccounted, and what to do.
    """
    missing = unaccounted_cores(state)
    if mask_cores is not None:
        off = [c for c in mask_cores if missing.get(c) == "offline"]
        if off:
            raise LutnasError(
                f"phone {serial}: --cpu-mask asks for {_ranges(off)}, which "
                f"{'is' if len(off) == 1 else 'are'} offline (cpu/online lists "
                f"{_ranges(state.online)}); bring {'it' if len(off) == 1 else 'them'} online "
                "(see docs/phone.md) or give online cores"
            )
        return
    if not missing:
        return
    offline = [c for c, why in missing.items() if why == "offline"]
    hidden = [c for c, why in missing.items() if why == "no cpufreq"]
    parts = []
    if offline:
        parts.append(f"{_ranges(offline)} offline")
    if hidden:
        parts.append(f"{_ranges(hidden)} without cpufreq (hidden by the kernel)")
    listed = _ranges(state.max_freq_khz) or "none"
    raise LutnasError(
        f"phone {serial}: cpu/possible lists {len(state.possible)} cores but {' and '.join(parts)}"
        f"; the fastest listed core ({listed} listed) may be a little one, so lutnas will not "
        "pick one. Bring every core online (turn off battery saver and power-saving or "
        "'adaptive' performance modes, keep the screen on and the phone charging; on a rooted "
        f"phone `echo 1 > /sys/devices/system/cpu/cpuN/online`), or name the cores to pin to "
        "with --cpu-mask (e.g. 80 for cpu7)"
    )
