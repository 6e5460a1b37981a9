"""Watching a phone during a run: its clocks and thermal zones, the cooling pauses, and the log
of both that the LUT keeps (``meta["phone_sessions"]``, one entry per run of profile-device).

Each check reads the cores' clocks and every zone's temperature, and, when asked, first waits
while the phone is throttled (:mod:`profiler.adb.thermal`). A zone still hot after a whole wait
is named once (a warning) and left out of every later decision of the session; the session's
entry records it with the reading that excluded it. The entry is written into the LUT after
each check while the LUT is open, so a run that is cut off keeps the log up to its last check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from lut.store_util import now
from profiler.adb import probe
from profiler.adb.client import AdbDevice
from profiler.adb.thermal import CoolingPolicy, throttle_reasons, wait_until_cool

log = logging.getLogger(__name__)
META_KEY = "phone_sessions"


class PhoneWatch:
    """The checks of one session on one phone; ``session`` is what the LUT keeps of it."""

    def __init__(
        self,
        device: AdbDevice,
        cores: list[int],
        cooling: CoolingPolicy,
        sleep: Callable[[float], None],
        session: dict,
    ) -> None:
        self.device, self.cores, self.cooling, self.sleep = device, cores, cooling, sleep
        self.heartbeat: Callable[[str], None] | None = None
        self.session = {
            **session,
            "started_at": now(),
            "cooling": {
                "hot_temp_c": cooling.hot_temp_c,
                "zones": list(cooling.zones),
                "max_wait_s": cooling.max_wait_s,
                "step_s": cooling.step_s,
            },
            "excluded_zones": {},
            "checks": [],
        }
        self.paused_s = 0.0
        self._store = None
        self._earlier: list[dict] = []

    @property
    def checks(self) -> list[dict]:
        return self.session["checks"]

    @property
    def excluded_zones(self) -> dict[str, dict]:
        return self.session["excluded_zones"]

    def record_in(self, store) -> None:
        """Keep this session's log in ``store`` (an open, writable ``LutStore``) from now on."""
        self._store = store
        self._earlier = list(store.meta.get(META_KEY, []))
        self.save()

    def save(self) -> None:
        """Write the session's entry into the LUT, while it is open (a check after it closed,
        such as the one at the end of the backend's ``with``, is only logged)."""
        if self._store is not None and self._store.closed:
            self._store = None
        if self._store is None:
            return
        self._store.set_meta(META_KEY, [*self._earlier, self.session])

    def note(self, key: str, value: object) -> None:
        """Add ``key`` to the session's entry (e.g. a runner overrun) and save it."""
        self.session.setdefault(key, []).append(value)
        self.save()

    def _pause(self, seconds: float, waited: list[float]) -> None:
        if self.heartbeat is not None:
            self.heartbeat(
                f"cooling the phone: {waited[0]:.0f} of at most {self.cooling.max_wait_s:.0f} s"
            )
        self.sleep(seconds)
        waited[0] += seconds

    def check(self, when: str, layers_done: int, cool: bool = True) -> dict:
        """Log clocks and temperatures; with ``cool``, first wait while the phone is
        throttled. Returns the log entry."""
        read = lambda: probe.read_cpu_state(self.device)  # noqa: E731
        excluded = set(self.excluded_zones)
        if cool:
            waited = [0.0]
            result = wait_until_cool(
                read, self.cores, self.cooling, lambda s: self._pause(s, waited), excluded
            )
            state, paused_s, reasons = result.state, result.waited_s, result.reasons
            for zone, celsius in result.stuck_zones.items():
                log.warning(
                    "phone %s: %s stayed above %.0f °C (%.1f °C) through a %.0f s wait; it is "
                    "left out of the cooling decision for the rest of this run (recorded in the "
                    "LUT's phone_sessions)",
                    self.device.serial,
                    zone,
                    self.cooling.hot_temp_c,
                    celsius,
                    paused_s,
                )
                self.excluded_zones[zone] = {
                    "celsius": celsius,
                    "layers_done": layers_done,
                    "at": now(),
                }
        else:
            state, paused_s = read(), 0.0
            reasons = throttle_reasons(state, self.cores, self.cooling, excluded)
        self.paused_s += paused_s
        entry = {
            "when": when,
            "at": now(),
            "layers_done": layers_done,
            "paused_s": paused_s,
            "still_throttled": reasons,
            **state.to_dict(),
        }
        self.checks.append(entry)
        log.info("phone %s %s: %s", self.device.serial, when, entry)
        self.save()
        return entry
