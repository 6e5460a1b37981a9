"""What the two host backends share: pinning, device facts, config fields."""

from __future__ import annotations

from profiler.base import Backend
from profiler.host import host_info, pin_to_cores, restore_affinity


class HostBackend(Backend):
    """A backend timing on this machine's CPU with ``threads`` threads, pinned to as many
    cores while entered (where the OS allows); the affinity is restored on exit."""

    def __init__(self, threads: int = 1, pin: bool = True) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.threads = threads
        self.pin = pin
        self._affinity_before: set[int] | None = None

    def __enter__(self) -> HostBackend:
        if self.pin:
            self._affinity_before = pin_to_cores(self.threads)
        return self

    def __exit__(self, *exc_info: object) -> None:
        restore_affinity(self._affinity_before)
        self._affinity_before = None

    def device_info(self) -> dict:
        return host_info()

    def _host_config(self) -> dict:
        info = host_info()
        return {
            "backend": self.name,
            "threads": self.threads,
            "device": f"host:{info['cpu_model']}",
            "machine": info["machine"],
        }
