"""What an emulated phone looks like: its properties, CPU clusters and thermal zones, written out
as a sandbox directory that stands in for the phone's ``/``.

Layout (paths relative to the sandbox root, as the phone sees them)::

    data/local/tmp/                                  the writable work area
    sys/devices/system/cpu/cpu{i}/cpufreq/           cpuinfo_max_freq, scaling_cur_freq,
                                                     scaling_max_freq (kHz); absent for
                                                     offline or hidden cores
    sys/devices/system/cpu/{possible,present,online} core ranges ("0-7", "0-5")
    sys/devices/system/cpu/cpu{i}/online             1 or 0
    sys/class/thermal/thermal_zone{i}/               type, temp (millidegrees Celsius)
    system/bin/                                      getprop and taskset shims
    .emu/                                            emulator bookkeeping (taskset log)
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path


def _default_props() -> dict[str, str]:
    return {
        "ro.product.model": "Pixel 4",
        "ro.product.manufacturer": "Google",
        "ro.product.name": "flame",
        "ro.product.device": "flame",
        "ro.board.platform": "msmnile",
        "ro.soc.model": "SM8150",
        "ro.soc.manufacturer": "Qualcomm",
        "ro.build.version.release": "13",
        "ro.build.version.sdk": "33",
        "ro.product.cpu.abi": "arm64-v8a",
    }


@dataclass
class DeviceProfile:
    """A phone's facts. Frequencies in kHz, as the kernel prints them; temperatures in °C.

    The default is a Pixel-4-like phone: 4 little cores at 1.78 GHz and 4 big cores, one of
    which (the prime core, cpu7) tops out higher than the other three. ``offline`` cores are
    switched off (``cpu/online`` leaves them out, their cpufreq is gone, as the kernel does);
    ``hidden`` cores are online but their cpufreq is not there (a vendor kernel that hides it).
    """

    props: dict[str, str] = field(default_factory=_default_props)
    max_freq_khz: tuple[int, ...] = (1785600,) * 4 + (2419200,) * 3 + (2841600,)
    thermal_zones: tuple[tuple[str, float], ...] = (
        ("cpu-0-0-usr", 38.0),
        ("cpu-1-0-usr", 39.5),
        ("battery", 31.0),
        ("skin-therm", 33.0),
    )
    offline: tuple[int, ...] = ()
    hidden: tuple[int, ...] = ()

    def with_props(self, **overrides: str) -> DeviceProfile:
        return replace(self, props={**self.props, **overrides})


def cpufreq_dir(root: Path, cpu: int) -> Path:
    return root / f"sys/devices/system/cpu/cpu{cpu}/cpufreq"


def thermal_dir(root: Path, zone: int) -> Path:
    return root / f"sys/class/thermal/thermal_zone{zone}"


def set_cur_freq(root: Path, cpu: int, khz: int, cap: bool = True) -> None:
    """Write a core's current frequency (and, with ``cap``, its governor cap) in kHz."""
    d = cpufreq_dir(root, cpu)
    (d / "scaling_cur_freq").write_text(f"{khz}\n")
    if cap:
        (d / "scaling_max_freq").write_text(f"{khz}\n")


def set_temp(root: Path, zone: int, celsius: float) -> None:
    (thermal_dir(root, zone) / "temp").write_text(f"{int(round(celsius * 1000))}\n")


def cpu_ranges(cpus: list[int]) -> str:
    """The kernel's range list of ``cpus``: [0, 1, 2, 3, 6] -> "0-3,6\\n"."""
    parts, start = [], None
    for i, cpu in enumerate(cpus):
        if start is None:
            start = cpu
        if i + 1 == len(cpus) or cpus[i + 1] != cpu + 1:
            parts.append(str(start) if start == cpu else f"{start}-{cpu}")
            start = None
    return ",".join(parts) + "\n"


def _getprop_script(props: dict[str, str]) -> str:
    cases = "\n".join(f"  {shlex.quote(k)}) echo {shlex.quote(v)} ;;" for k, v in props.items())
    listing = "\n".join(f"echo {shlex.quote(f'[{k}]: [{v}]')}" for k, v in sorted(props.items()))
    return (
        f"#!/bin/sh\n# getprop shim of the emulated phone\nif [ $# -eq 0 ]; then\n{listing}\n"
        f'exit 0\nfi\ncase "$1" in\n{cases}\n  *) echo "${{2:-}}" ;;\nesac\n'
    )


def _taskset_script(log: Path) -> str:
    # toybox syntax: taskset [-p] MASK COMMAND...; we record the mask and run the command
    # unpinned (the host has fewer cores than the phone).
    return (
        f"#!/bin/sh\n# taskset shim of the emulated phone\n"
        f'if [ "$1" = -p ]; then echo "taskset: -p is not emulated" >&2; exit 1; fi\n'
        f'mask="$1"; shift\n'
        f"case \"$mask\" in ''|*[!0-9a-fA-Fx]*)\n"
        f"  echo \"taskset: bad mask '$mask'\" >&2; exit 1;;\nesac\n"
        f'echo "$mask $*" >> {shlex.quote(str(log))}\n'
        f'exec "$@"\n'
    )


def build_sandbox(root: Path, profile: DeviceProfile) -> None:
    """Write ``profile`` under ``root`` (created if needed)."""
    (root / "data/local/tmp").mkdir(parents=True, exist_ok=True)
    (root / ".emu").mkdir(exist_ok=True)
    (root / ".emu/taskset.log").touch()
    cpus = root / "sys/devices/system/cpu"
    for cpu, khz in enumerate(profile.max_freq_khz):
        (cpus / f"cpu{cpu}").mkdir(parents=True, exist_ok=True)
        (cpus / f"cpu{cpu}/online").write_text("0\n" if cpu in profile.offline else "1\n")
        if cpu in profile.offline or cpu in profile.hidden:
            continue
        d = cpufreq_dir(root, cpu)
        d.mkdir(parents=True, exist_ok=True)
        (d / "cpuinfo_max_freq").write_text(f"{khz}\n")
        (d / "cpuinfo_min_freq").write_text("300000\n")
        set_cur_freq(root, cpu, khz)
    every = range(len(profile.max_freq_khz))
    (cpus / "possible").write_text(f"0-{len(every) - 1}\n")
    (cpus / "present").write_text(f"0-{len(every) - 1}\n")
    (cpus / "online").write_text(cpu_ranges([c for c in every if c not in profile.offline]))
    for zone, (kind, celsius) in enumerate(profile.thermal_zones):
        d = thermal_dir(root, zone)
        d.mkdir(parents=True, exist_ok=True)
        (d / "type").write_text(kind + "\n")
        set_temp(root, zone, celsius)
    bin_dir = root / "system/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("getprop", _getprop_script(profile.props)),
        ("taskset", _taskset_script(root / ".emu/taskset.log")),
    ):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)


def taskset_masks(root: Path) -> list[str]:
    """The masks the taskset shim was called with, in order."""
    return [
        line.split()[0]
        for line in (root / ".emu/taskset.log").read_text().splitlines()
        if line.strip()
    ]
