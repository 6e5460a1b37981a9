"""Profile several phones at once: one thread per phone, each filling its own LUT file.

Phones are independent: each thread opens its own backend and its own LUT (created or resumed),
and a phone that fails or goes away ends only its own thread; the others run on. The outcome of
every phone is returned, so the caller can say which to resume.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lut.store import LutStore
from lutnas.errors import LutnasError
from profiler.adb.client import AdbClient
from profiler.base import Backend, DeviceLostError

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class PhoneOutcome:
    """What happened on one phone: its LUT file, the job's result, or the error that ended it."""

    serial: str
    out: Path | None = None
    result: object = None
    error: str | None = None
    lost: bool = False  # the phone went away (resume later); False for other errors

    @property
    def ok(self) -> bool:
        return self.error is None


def attached_serials(serials: Sequence[str] = (), all_devices: bool = False) -> list[str]:
    """The phones to use: ``serials`` (each must be ready) or, with ``all_devices``, every
    phone the adb server lists as ready.

    Raises:
        LutnasError: a named phone is missing or not ready, or no phone is ready.
    """
    client = AdbClient()
    if all_devices:
        ready = sorted(s for s, state in client.devices().items() if state == "device")
        if not ready:
            client.select(None)  # raises the usual "no phone attached" advice
    else:
        ready = [client.select(s) for s in dict.fromkeys(serials)]
    return _one_serial_per_phone(client, ready)


def _one_serial_per_phone(client: AdbClient, serials: list[str]) -> list[str]:
    """``serials`` without a second address of a phone already listed (the same phone on
    USB and over Wi-Fi has two adb serials but one ``ro.serialno``, and one LUT)."""
    if len(serials) < 2:
        return serials
    seen: dict[str, str] = {}
    for serial in serials:
        phone_id = client.device(serial).getprop("ro.serialno") or serial
        if phone_id in seen:
            log.warning(
                "%s and %s are the same phone (ro.serialno %s, e.g. USB and Wi-Fi); profiling "
                "it once, over %s",
                seen[phone_id],
                serial,
                phone_id,
                seen[phone_id],
            )
            continue
        seen[phone_id] = serial
    return list(seen.values())


def lut_path(out: str | Path, device_id: str, several: bool) -> Path:
    """The LUT file of one phone: ``out`` itself for one phone; otherwise ``{serial}`` in
    ``out`` is replaced, or the phone's id is added before the suffix (``phones-ABC123.lut``)."""
    out = str(out)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", device_id)
    if "{serial}" in out:
        return Path(out.replace("{serial}", safe))
    if not several:
        return Path(out)
    path = Path(out)
    return path.with_name(f"{path.stem}-{safe}{path.suffix or '.lut'}")


def profile_phones(
    serials: Sequence[str],
    make_backend: Callable[[str], Backend],
    out: str | Path,
    settings: dict,
    job: Callable[[Backend, LutStore], object],
    resume: bool = True,
) -> list[PhoneOutcome]:
    """Run ``job(backend, store)`` on every phone in parallel and wait for all of them.

    Args:
        serials: adb serials of the phones.
        make_backend: builds the (not yet entered) backend of one serial.
        out: LUT path or pattern, see :func:`lut_path`; the phone's id is its
            ``config()["device_serial"]`` (stable across USB and Wi-Fi reconnects).
        settings: the LUT settings identity (warm-up, runs) stored in and checked against files.
        job: fills the store, e.g. ``lambda b, s: profile_layers(b, s, specs, settings)``.
        resume: continue existing files (their configuration must match).

    Returns:
        One :class:`PhoneOutcome` per serial, in order.
    """
    outcomes = [PhoneOutcome(serial=serial) for serial in serials]
    several = len(outcomes) > 1

    def work(outcome: PhoneOutcome) -> None:
        try:
            with make_backend(outcome.serial) as backend:
                config = backend.config()
                outcome.out = lut_path(
                    out, str(config.get("device_serial") or outcome.serial), several
                )
                with backend.open_lut(outcome.out, settings, resume=resume) as store:
                    outcome.result = job(backend, store)
        except LutnasError as exc:  # includes BackendError and DeviceLostError
            outcome.error, outcome.lost = str(exc), isinstance(exc, DeviceLostError)
            log.error("phone %s: %s", outcome.serial, exc)
        except Exception as exc:  # one phone's bug must not take the others down
            outcome.error = f"{type(exc).__name__}: {exc}"
            log.exception("phone %s failed", outcome.serial)

    threads = [
        threading.Thread(target=work, args=(o,), name=f"phone-{o.serial}", daemon=True)
        for o in outcomes
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes
