"""pytest fixtures: a private adb server and emulated phones attached to it.

``adb_server`` (session) starts Debian's ``adb`` on a free port (never 5037 nor the emulator
range 5555–5585) with HOME in a temp dir, and kills it at the end; a developer's own server is
untouched. ``phone`` attaches one emulated phone and points ``ANDROID_ADB_SERVER_PORT`` at the
private server for the test; ``phone_factory`` makes more. ``perf_test_runner`` and
``benchmark_model_runner`` are the stand-in ``onnxruntime_perf_test`` and ``benchmark_model``
ready to push.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .device import EmulatedDevice
from .profile import DeviceProfile

ADB = shutil.which("adb")
_EMULATOR_PORTS = range(5554, 5587)


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _EMULATOR_PORTS and port != 5037:
            return port


@dataclass
class AdbServer:
    """A private adb server: ``adb -P port`` with its own HOME."""

    port: int
    home: Path
    attached: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.home),
            "ANDROID_ADB_SERVER_PORT": str(self.port),
            "ANDROID_ADB_SERVER_HOST": "127.0.0.1",
        }

    def adb(self, *args: str, timeout_s: float = 20.0) -> str:
        r = subprocess.run(
            [ADB, "-P", str(self.port), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        return (r.stdout + r.stderr).strip()

    def state(self, serial: str) -> str | None:
        for line in self.adb("devices").splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == serial:
                return parts[1]
        return None

    def wait_for(self, serial: str, state: str | None = "device", timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.state(serial) != state:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{serial} did not become {state!r}: {self.adb('devices')}")
            time.sleep(0.05)

    def attach(self, phone: EmulatedDevice) -> str:
        """``adb connect`` the phone and wait until it is ready; returns its serial."""
        out = self.adb("connect", phone.address)
        if "connected" not in out:
            raise RuntimeError(f"adb connect {phone.address}: {out}")
        self.wait_for(phone.address)
        self.attached.append(phone.address)
        return phone.address

    def detach(self, phone: EmulatedDevice) -> None:
        self.adb("disconnect", phone.address)
        self.wait_for(phone.address, None)

    def reattach(self, phone: EmulatedDevice) -> str:
        """Plug a dropped phone back in: make it reachable, then disconnect and connect."""
        phone.restore()
        self.adb("disconnect", phone.address)
        return self.attach(phone)


@pytest.fixture(scope="session")
def adb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdbServer]:
    if ADB is None:
        pytest.skip("adb is not installed (Debian: apt-get install adb)")
    home = tmp_path_factory.mktemp("adb-home")
    server = AdbServer(free_port(), home)
    server.adb("start-server")
    try:
        yield server
    finally:
        server.adb("kill-server")


@pytest.fixture
def phone_factory(
    adb_server: AdbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., EmulatedDevice]]:
    """``make(profile=None, attach=True, serialno=None)`` -> a started (and attached) emulated
    phone; ``serialno`` makes it another address of a phone already made (USB and Wi-Fi)."""
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    monkeypatch.setenv("ANDROID_ADB_SERVER_HOST", "127.0.0.1")
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    phones: list[EmulatedDevice] = []

    def make(
        profile: DeviceProfile | None = None, attach: bool = True, serialno: str | None = None
    ) -> EmulatedDevice:
        index = len(phones)
        profile = profile or DeviceProfile()
        profile = profile.with_props(**{"ro.serialno": serialno or f"EMU{os.getpid()}X{index}"})
        phone = EmulatedDevice(tmp_path / f"phone{index}", profile)
        phone.start()
        phones.append(phone)
        if attach:
            adb_server.attach(phone)
        return phone

    yield make
    for phone in phones:
        adb_server.adb("disconnect", phone.address)
        phone.stop()


@pytest.fixture
def phone(phone_factory: Callable[..., EmulatedDevice]) -> EmulatedDevice:
    return phone_factory()


def write_stand_in(source: str, path: Path) -> Path:
    """``source`` (a stand-in script beside this file) as the executable ``path`` for this
    Python: its ``#!/usr/bin/env python3`` line becomes ``#!<sys.executable>``."""
    text = Path(__file__).with_name(source).read_text()
    # the phone runs a pushed copy: it finds the modules beside its source on this host
    future = "from __future__ import annotations\n"
    here = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
    text = text.replace(future, future + here, 1) if future in text else text
    path.write_text(f"#!{sys.executable}\n" + text.split("\n", 1)[1])
    path.chmod(0o755)
    return path


def _stand_in(tmp_path_factory: pytest.TempPathFactory, source: str, name: str) -> Path:
    return write_stand_in(source, tmp_path_factory.mktemp("runner") / name)


@pytest.fixture(scope="session")
def perf_test_runner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in onnxruntime_perf_test as an executable for this Python."""
    return _stand_in(tmp_path_factory, "fake_perf_test.py", "onnxruntime_perf_test")


@pytest.fixture(scope="session")
def benchmark_model_runner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in TFLite/LiteRT benchmark_model as an executable for this Python."""
    return _stand_in(tmp_path_factory, "fake_benchmark_model.py", "benchmark_model")
