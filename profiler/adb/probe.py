"""Facts about a phone: properties, CPU topology and frequencies, thermal zones.

Each probe is one shell command; the text it prints is parsed by a pure function (tested on its
own). Frequencies are kHz as the kernel prints them, temperatures degrees Celsius.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lutnas.errors import LutnasError
from profiler.adb.client import AdbDevice

PROPS = (
    "ro.product.model",
    "ro.product.manufacturer",
    "ro.product.device",
    "ro.board.platform",
    "ro.soc.model",
    "ro.soc.manufacturer",
    "ro.hardware",
    "ro.build.version.release",
    "ro.build.version.sdk",
    "ro.build.fingerprint",
    "ro.product.cpu.abi",
)

# One line per core: "cpu <n> <cpuinfo_max_freq> <scaling_cur_freq> <scaling_max_freq>",
# one per zone: "zone <n> <temp> <type...>", and "possible <ranges>", "online <ranges>";
# "-" where a file is missing or unreadable.
CPU_STATE_COMMAND = (
    "cd /sys/devices/system/cpu && "
    "echo possible $(cat possible 2>/dev/null || echo -); "
    "echo online $(cat online 2>/dev/null || echo -); "
    "for c in cpu[0-9]*; do "
    "echo cpu ${c#cpu} $(cat $c/cpufreq/cpuinfo_max_freq 2>/dev/null || echo -) "
    "$(cat $c/cpufreq/scaling_cur_freq 2>/dev/null || echo -) "
    "$(cat $c/cpufreq/scaling_max_freq 2>/dev/null || echo -); done; "
    "for z in /sys/class/thermal/thermal_zone*; do "
    "echo zone ${z##*thermal_zone} $(cat $z/temp 2>/dev/null || echo -) "
    "$(cat $z/type 2>/dev/null || echo -); done"
)


@dataclass(frozen=True)
class CpuState:
    """One snapshot of the cores' clocks and the thermal zones."""

    max_freq_khz: dict[int, int]  # cpuinfo_max_freq: what the core can do
    cur_freq_khz: dict[int, int] = field(default_factory=dict)  # scaling_cur_freq: now
    cap_freq_khz: dict[int, int] = field(default_factory=dict)  # scaling_max_freq: allowed now
    temps_c: dict[str, float] = field(default_factory=dict)  # "thermal_zone3:cpu-1-0" -> °C
    possible: tuple[int, ...] = ()  # cpu/possible: every core the SoC has (empty: unknown)
    online: tuple[int, ...] = ()  # cpu/online: the cores switched on (empty: unknown)

    def to_dict(self) -> dict:
        return {
            "cur_freq_khz": {str(k): v for k, v in sorted(self.cur_freq_khz.items())},
            "cap_freq_khz": {str(k): v for k, v in sorted(self.cap_freq_khz.items())},
            "temps_c": dict(sorted(self.temps_c.items())),
        }


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _celsius(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    celsius = value / 1000.0 if abs(value) >= 1000 else value  # most kernels print m°C
    return celsius if -40.0 < celsius < 200.0 else None  # disabled zones print nonsense


def parse_cpu_ranges(text: str) -> tuple[int, ...]:
    """The kernel's core list ("0-3,6") as core numbers; () for "-" or anything else."""
    cores: list[int] = []
    for part in text.strip().split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            return ()
        cores += range(int(first), int(last or first) + 1)
    return tuple(sorted(set(cores)))


def parse_cpu_state(text: str) -> CpuState:
    """Parse the output of :data:`CPU_STATE_COMMAND`."""
    maxes: dict[int, int] = {}
    curs: dict[int, int] = {}
    caps: dict[int, int] = {}
    temps: dict[str, float] = {}
    ranges: dict[str, tuple[int, ...]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("possible", "online"):
            ranges[parts[0]] = parse_cpu_ranges(parts[1])
        elif len(parts) == 5 and parts[0] == "cpu" and parts[1].isdigit():
            cpu = int(parts[1])
            for target, value in ((maxes, parts[2]), (curs, parts[3]), (caps, parts[4])):
                if _int(value) is not None:
                    target[cpu] = int(value)
        elif len(parts) >= 3 and parts[0] == "zone" and parts[1].isdigit():
            celsius = _celsius(parts[2])
            kind = " ".join(parts[3:]) or "-"
            if celsius is not None:
                temps[f"thermal_zone{parts[1]}:{kind}"] = celsius
    return CpuState(maxes, curs, caps, temps, ranges.get("possible", ()), ranges.get("online", ()))


def parse_getprop(text: str) -> dict[str, str]:
    """Parse ``getprop`` without arguments: ``[name]: [value]`` lines."""
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\[([^\]]+)\]: \[(.*)\]\s*$", text, re.MULTILINE)
    }


def fastest_cores(max_freq_khz: dict[int, int], count: int = 1) -> list[int]:
    """The ``count`` cores with the highest maximum frequency (higher index wins ties: the
    prime core of big.LITTLE phones is the last one)."""
    if not max_freq_khz:
        raise LutnasError(
            "the phone reports no cpufreq data under /sys/devices/system/cpu; "
            "give the cores to use with --cpu-mask"
        )
    ranked = sorted(max_freq_khz, key=lambda c: (max_freq_khz[c], c), reverse=True)
    return sorted(ranked[: max(1, count)])


def cpu_mask(cores: list[int]) -> str:
    """taskset's hex mask for ``cores``: [7] -> '80'."""
    return format(sum(1 << c for c in cores), "x")


def parse_cpu_mask(mask: str) -> list[int]:
    """The cores in a hex mask ('80' or '0x80')."""
    try:
        value = int(mask, 16)
    except ValueError:
        raise LutnasError(f"--cpu-mask {mask!r} is not a hex mask like 80 (core 7)") from None
    if value <= 0:
        raise LutnasError(f"--cpu-mask {mask!r} selects no core")
    return [i for i in range(value.bit_length()) if value >> i & 1]


def clusters(max_freq_khz: dict[int, int]) -> list[dict]:
    """Cores grouped by maximum frequency, slowest first: the big.LITTLE topology."""
    by_freq: dict[int, list[int]] = {}
    for cpu, khz in sorted(max_freq_khz.items()):
        by_freq.setdefault(khz, []).append(cpu)
    return [{"cpus": cpus, "max_freq_khz": khz} for khz, cpus in sorted(by_freq.items())]


def read_props(device: AdbDevice) -> dict[str, str]:
    props = parse_getprop(device.shell("getprop").stdout)
    return {k: props.get(k, "") for k in PROPS}


def read_cpu_state(device: AdbDevice) -> CpuState:
    return parse_cpu_state(device.shell(CPU_STATE_COMMAND).stdout)
