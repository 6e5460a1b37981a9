"""Facts about the host CPU, and pinning this process to one core."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info() -> dict:
    """Descriptive device facts for LUT metadata."""
    return {
        "kind": "host",
        "cpu_model": cpu_model(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def pin_to_cores(count: int) -> set[int] | None:
    """Pin this process to ``count`` cores (the last allowed ones), where the OS allows.

    Returns the previous affinity so the caller can restore it with :func:`restore_affinity`,
    or None when the OS has no affinity call.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    before = os.sched_getaffinity(0)
    allowed = sorted(before)
    os.sched_setaffinity(0, set(allowed[-max(1, min(count, len(allowed))) :]))
    return before


def restore_affinity(before: set[int] | None) -> None:
    if before is not None:
        os.sched_setaffinity(0, before)
