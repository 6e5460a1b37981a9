"""The one wrapper over adbutils: every byte lutnas sends to a phone goes through here.

The adb server is found at ``$ANDROID_ADB_SERVER_HOST:$ANDROID_ADB_SERVER_PORT`` (default
127.0.0.1:5037), like the ``adb`` command itself. A device is always named by its serial.
A failed call becomes :class:`DeviceLostError` when the phone is no longer attached (cable
pulled, server gone) and :class:`BackendError` when it still is (a missing file); a command that
ran and failed is a :class:`ShellResult` with its exit code, not an exception.

Every call has a time limit. A shell command's is its ``timeout_s`` for the whole command (a
probe: :data:`PROBE_TIMEOUT_S`), or a :class:`~profiler.adb.shellv2.Deadline` its output may
move (a batch: :mod:`profiler.adb.batch_run`); a file transfer's is :data:`SOCKET_TIMEOUT_S` of
silence. When a limit passes, a fresh ``echo`` tells a busy command from a hung phone: the phone
still answers -> :class:`NoAnswerError` (the command's own stream is given up); it does not ->
:class:`PhoneFrozenError`, a :class:`DeviceLostError` that ends the run (resumable). While a
command runs, ``heartbeat(seconds_waited)`` is called about once a second. Several files go
in one sync session with :meth:`AdbDevice.push_many` (:mod:`profiler.adb.sync_push`).
"""

from __future__ import annotations

import os
import shlex
import socket
from collections.abc import Callable
from pathlib import Path

from lutnas.errors import LutnasError
from profiler.adb import sync_push
from profiler.adb.shellv2 import (  # noqa: F401  (ShellResult: callers import it from here)
    Deadline,
    DeadlinePassed,
    ShellResult,
    read_shell_v2,
)
from profiler.base import BackendError, DeviceLostError

_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, socket.timeout)
PROBE_TIMEOUT_S = 15.0  # getprop, a clock probe, mkdir, rm: seconds on any phone
ANSWER_TIMEOUT_S = 5.0  # does a phone that missed a limit still answer a fresh `echo`?
SOCKET_TIMEOUT_S = 30.0  # file transfers: this long without a byte moving is no answer
FROZEN_HINT = (
    "Unplug and replug it (or `adb reconnect`; reboot it if `adb shell echo ok` hangs too), "
    "then run the same command again: rows already measured are kept and the run resumes."
)
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


class NoAnswerError(BackendError):
    """A command got no answer within its limit, but the phone still answers a fresh shell."""


class PhoneFrozenError(DeviceLostError):
    """The phone is attached but answers nothing, not even a fresh ``echo``: stop the run."""


class AdbClient:
    """A connection to the adb server; :meth:`device` hands out per-serial handles."""

    def __init__(self, host: str | None = None, port: int | None = None) -> None:
        default_host, default_port = server_address()
        self.host = host or default_host
        self.port = port or default_port
        self._adb = _adbutils().AdbClient(
            host=self.host, port=self.port, socket_timeout=SOCKET_TIMEOUT_S
        )

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
        self.frozen = False  # set once the phone stopped answering: do not call it again

    def _lost(self, doing: str, exc: BaseException) -> DeviceLostError:
        detail = str(exc) or type(exc).__name__
        return DeviceLostError(f"lost phone {self.serial} while {doing} ({detail}). {RESUME_HINT}")

    def _call(
        self, doing: str, limit_s: float | Deadline, fn, *args, quick: bool = False, **kwargs
    ):
        """Run an adbutils call; a failure is the phone's loss unless it is still attached,
        a passed limit is :meth:`_no_answer` (``quick``: a :class:`NoAnswerError` at once,
        without asking the phone again)."""
        adbutils = _adbutils()
        if self.frozen:
            raise PhoneFrozenError(
                f"phone {self.serial} stopped answering earlier; not {doing}. {FROZEN_HINT}"
            )
        try:
            return fn(*args, **kwargs)
        except (TimeoutError, DeadlinePassed, adbutils.AdbTimeout) as exc:
            if quick:
                raise NoAnswerError(
                    f"phone {self.serial}: no answer within {float(limit_s):.0f} s"
                ) from exc
            raise self._no_answer(doing, float(limit_s)) from exc
        except (adbutils.AdbError, *_TRANSPORT_ERRORS) as exc:
            if self.attached():
                detail = str(exc) or type(exc).__name__
                raise BackendError(f"phone {self.serial}: {doing} failed ({detail})") from exc
            raise self._lost(doing, exc) from exc

    def _no_answer(self, doing: str, limit_s: float) -> BackendError:
        """What a passed limit means: the phone is gone, hung, or only this command is slow."""
        if not self.attached():
            return DeviceLostError(
                f"lost phone {self.serial} while {doing} (no answer within {limit_s:.0f} s). "
                f"{RESUME_HINT}"
            )
        if not self.answers():
            self.frozen = True
            return PhoneFrozenError(
                f"phone {self.serial} stopped answering: no answer within {limit_s:.0f} s while "
                f"{doing}, nor to a fresh `echo` within {ANSWER_TIMEOUT_S:.0f} s. {FROZEN_HINT}"
            )
        return NoAnswerError(f"phone {self.serial}: no answer within {limit_s:.0f} s while {doing}")

    def attached(self) -> bool:
        """True when the server lists this phone as ready ('device')."""
        try:
            return self.client.devices().get(self.serial) == "device"
        except LutnasError:
            return False

    def answers(self, timeout_s: float = ANSWER_TIMEOUT_S) -> bool:
        """True when a fresh ``echo`` comes back within ``timeout_s``."""
        try:
            return self._shell_v2("echo ok", timeout_s, None).stdout.strip() == "ok"
        except Exception:  # any failure: it does not answer
            return False

    def shell(
        self,
        command: str,
        timeout_s: float | Deadline = PROBE_TIMEOUT_S,
        heartbeat: Callable[[float], None] | None = None,
        quick: bool = False,
        doing: str | None = None,
        on_stdout: Callable[[bytes], None] | None = None,
    ) -> ShellResult:
        """Run ``command`` with ``sh -c`` on the phone; its exit code comes back (shell v2).
        ``timeout_s`` limits the whole command (a :class:`Deadline`: as ``on_stdout`` moves
        it); ``heartbeat(seconds)`` ticks while it runs; ``quick``: past the limit, do not spend
        more time asking whether the phone answers; ``doing``: what errors call it (default:
        the command's start); ``on_stdout(bytes)`` hears stdout as it arrives."""
        return self._call(
            doing or f"running `{command[:80]}`",
            timeout_s,
            self._shell_v2,
            command,
            timeout_s,
            heartbeat,
            on_stdout,
            quick=quick,
        )

    def _shell_v2(
        self,
        command: str,
        deadline: float | Deadline,
        heartbeat: Callable[[float], None] | None,
        on_stdout: Callable[[bytes], None] | None = None,
    ) -> ShellResult:
        """One ``shell,v2:`` call (:func:`profiler.adb.shellv2.read_shell_v2`)."""
        if not isinstance(deadline, Deadline):
            deadline = Deadline(deadline)
        conn = self._dev.open_transport(timeout=min(deadline.limit_s, PROBE_TIMEOUT_S))
        try:
            conn.send_command(f"shell,v2:{command}")
            return read_shell_v2(conn.conn, deadline, heartbeat, on_stdout)
        finally:
            conn.close()

    def getprop(self, name: str) -> str:
        return self.shell(f"getprop {name}").stdout.strip()

    def push(self, local: Path | str, remote: str, mode: int = 0o644) -> int:
        """Copy a local file to ``remote`` (a file path) with ``mode``; returns bytes sent."""
        return self._call(
            f"pushing {Path(local).name}",
            SOCKET_TIMEOUT_S,
            self._dev.sync.push,
            str(local),
            remote,
            mode=mode,
        )

    def push_many(self, files: list[tuple[Path, str, int]]) -> int:
        """Copy each ``(local, remote, mode)`` in one sync session; returns bytes sent."""
        names = ", ".join(Path(local).name for local, _, _ in files[:3])
        doing = f"pushing {len(files)} files ({names}{', ...' if len(files) > 3 else ''})"
        return self._call(
            doing, SOCKET_TIMEOUT_S, sync_push.push_files, self._dev, files, SOCKET_TIMEOUT_S
        )

    def read_file(self, remote: str) -> bytes:
        return self._call(f"reading {remote}", SOCKET_TIMEOUT_S, self._dev.sync.read_bytes, remote)

    def remove(
        self, *remote: str, recursive: bool = False, timeout_s: float = PROBE_TIMEOUT_S
    ) -> None:
        """Delete files (or, with ``recursive``, directories); missing ones are fine."""
        if remote:
            flags = "-rf" if recursive else "-f"
            quoted = " ".join(shlex.quote(p) for p in remote)
            self.shell(f"rm {flags} {quoted}", timeout_s=timeout_s)
