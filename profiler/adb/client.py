"""The one wrapper over adbutils: every byte lutnas sends to a phone goes through here.

The adb server is found at ``$ANDROID_ADB_SERVER_HOST:$ANDROID_ADB_SERVER_PORT`` (default
127.0.0.1:5037), like the ``adb`` command itself. A device is always named by its serial.
A failed call becomes :class:`DeviceLostError` when the phone is no longer attached (cable
pulled, server gone) and :class:`BackendError` when it still is (a missing file, a timeout); a
command that ran and failed is a :class:`ShellResult` with its exit code, not an exception.
"""

from __future__ import annotations

import os
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path

from lutnas.errors import LutnasError
from profiler.base import BackendError, DeviceLostError

_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, socket.timeout)
RESUME_HINT = (
    "Reconnect the phone (`adb devices` must list it as 'device'; for Wi-Fi use "
    "`adb connect HOST:PORT`) and run the same command again: rows already measured "
    "are kept and the run resumes."
)


def _adbutils():
    try:
        import adbutils
    except ImportError as exc:  # optional dependency, loaded lazily
        raise LutnasError("the adb backend needs adbutils: pip install adbutils") from exc
    return adbutils


def server_address() -> tuple[str, int]:
    """The adb server's host and port from the environment (adb's own variables)."""
    host = os.environ.get("ANDROID_ADB_SERVER_HOST") or "127.0.0.1"
    port_text = os.environ.get("ANDROID_ADB_SERVER_PORT") or "5037"
    try:
        return host, int(port_text)
    except ValueError:
        raise LutnasError(f"ANDROID_ADB_SERVER_PORT={port_text!r} is not a port number") from None


@dataclass(frozen=True)
class ShellResult:
    returncode: int
    stdout: str
    stderr: str


class AdbClient:
    """A connection to the adb server; :meth:`device` hands out per-serial handles."""

    def __init__(self, host: str | None = None, port: int | None = None) -> None:
        default_host, default_port = server_address()
        self.host = host or default_host
        self.port = port or default_port
        self._adb = _adbutils().AdbClient(host=self.host, port=self.port)

    def _server_error(self, exc: BaseException) -> LutnasError:
        return LutnasError(
            f"cannot talk to the adb server at {self.host}:{self.port} ({exc}). Start it with "
            f"`adb start-server` (or set ANDROID_ADB_SERVER_HOST/ANDROID_ADB_SERVER_PORT)."
        )

    def devices(self) -> dict[str, str]:
        """Serial -> state ('device', 'offline', 'unauthorized', ...) of every attached phone."""
        adbutils = _adbutils()
        try:
            return {info.serial: info.state for info in self._adb.list()}
        except (adbutils.AdbError, *_TRANSPORT_ERRORS) as exc:
            raise self._server_error(exc) from exc

    def select(self, serial: str | None = None) -> str:
        """The serial to use: ``serial`` if it is ready, else the only ready phone.

        Raises:
            LutnasError: no phone, the named phone missing or not ready, or several phones
                and no serial.
        """
        devices = self.devices()
        ready = sorted(s for s, state in devices.items() if state == "device")
        if serial:
            if serial not in devices:
                listed = ", ".join(sorted(devices)) or "none"
                raise LutnasError(
                    f"phone {serial!r} is not attached (attached: {listed}). "
                    "Check the cable or `adb connect` it, then `adb devices`."
                )
            if devices[serial] != "device":
                raise LutnasError(_state_advice(serial, devices[serial]))
            return serial
        if not ready:
            if devices:
                serial, state = sorted(devices.items())[0]
                raise LutnasError(_state_advice(serial, state))
            raise LutnasError(
                "no phone attached to the adb server at "
                f"{self.host}:{self.port}. Plug one in with USB debugging on, or "
                "`adb connect HOST:PORT`; `adb devices` must list it as 'device'."
            )
        if len(ready) > 1:
            raise LutnasError(
                f"{len(ready)} phones attached ({', '.join(ready)}); pick one with "
                "--serial SERIAL (or profile all with --all-devices)."
            )
        return ready[0]

    def device(self, serial: str) -> AdbDevice:
        return AdbDevice(self, serial)


def _state_advice(serial: str, state: str) -> str:
    advice = {
        "unauthorized": "unlock it and accept the 'Allow USB debugging' prompt",
        "offline": "reconnect the cable (or `adb disconnect` and `adb connect` it again)",
    }.get(state, "wait until `adb devices` lists it as 'device'")
    return f"phone {serial} is {state}: {advice}."


class AdbDevice:
    """One phone, by serial. Methods raise :class:`DeviceLostError` when the link fails."""

    def __init__(self, client: AdbClient, serial: str) -> None:
        self.client = client
        self.serial = serial
        self._dev = client._adb.device(serial)

    def _lost(self, doing: str, exc: BaseException) -> DeviceLostError:
        return DeviceLostError(f"lost phone {self.serial} while {doing} ({exc}). {RESUME_HINT}")

    def _call(self, doing: str, fn, *args, **kwargs):
        """Run an adbutils call; a failure is the phone's loss unless it is still attached."""
        adbutils = _adbutils()
        try:
            return fn(*args, **kwargs)
        except (adbutils.AdbError, *_TRANSPORT_ERRORS) as exc:
            if isinstance(exc, adbutils.AdbTimeout):
                doing += ": no answer in time"
            if self.attached():
                raise BackendError(f"phone {self.serial}: {doing} failed ({exc})") from exc
            raise self._lost(doing, exc) from exc

    def attached(self) -> bool:
        """True when the server lists this phone as ready ('device')."""
        try:
            return self.client.devices().get(self.serial) == "device"
        except LutnasError:
            return False

    def shell(self, command: str, timeout_s: float = 600.0) -> ShellResult:
        """Run ``command`` with ``sh -c`` on the phone; its exit code comes back (shell v2)."""
        r = self._call(
            f"running `{command[:80]}`", self._dev.shell2, command, timeout=timeout_s, v2=True
        )
        return ShellResult(r.returncode, r.stdout, r.stderr)

    def getprop(self, name: str) -> str:
        return self.shell(f"getprop {name}").stdout.strip()

    def push(self, local: Path | str, remote: str, mode: int = 0o644) -> int:
        """Copy a local file to ``remote`` (a file path) with ``mode``; returns bytes sent."""
        return self._call(
            f"pushing {Path(local).name}", self._dev.sync.push, str(local), remote, mode=mode
        )

    def read_file(self, remote: str) -> bytes:
        return self._call(f"reading {remote}", self._dev.sync.read_bytes, remote)

    def remove(self, *remote: str, recursive: bool = False) -> None:
        """Delete files (or, with ``recursive``, directories); missing ones are fine."""
        if remote:
            flags = "-rf" if recursive else "-f"
            self.shell(f"rm {flags} " + " ".join(shlex.quote(p) for p in remote))
