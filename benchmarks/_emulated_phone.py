"""An emulated phone for benchmarks: Debian's adb server on a free port with one phone of
tests/adbemu attached, and the stand-in ``onnxruntime_perf_test`` it runs."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from adbemu.device import EmulatedDevice  # noqa: E402
from adbemu.fixtures import ADB, AdbServer, free_port  # noqa: E402

__all__ = ["adb_missing", "emulated_phone", "stand_in_perf_test"]


def adb_missing() -> bool:
    """True, after saying so on stderr, when Debian's ``adb`` is not installed."""
    if ADB is None:
        print("adb is not installed (apt-get install adb)", file=sys.stderr)
    return ADB is None


def stand_in_perf_test(path: Path) -> Path:
    """tests/adbemu's stand-in onnxruntime_perf_test written to ``path``, run by this Python."""
    source = (ROOT / "tests/adbemu/fake_perf_test.py").read_text()
    path.write_text(f"#!{sys.executable}\n" + source.split("\n", 1)[1])
    path.chmod(0o755)
    return path


@contextlib.contextmanager
def emulated_phone(tmp: Path) -> Iterator[str]:
    """A private adb server (its HOME in ``tmp``) with one emulated phone attached, pointed to by
    this process's ``ANDROID_ADB_SERVER_*``; yields the phone's serial, stops both after."""
    (tmp / "home").mkdir()
    server = AdbServer(free_port(), tmp / "home")
    os.environ.update(ANDROID_ADB_SERVER_PORT=str(server.port), ANDROID_ADB_SERVER_HOST="127.0.0.1")
    server.adb("start-server")
    phone = EmulatedDevice(tmp / "phone")
    phone.start()
    try:
        yield server.attach(phone)
    finally:
        phone.stop()
        server.adb("kill-server")
