"""The emulated phone outside pytest (benchmark scripts): a private adb server, one phone
attached to it, and a stand-in runner ready to push.

    with emulated_phone(tmp, "fake_benchmark_model.py", "benchmark_model") as (phone, serial,
                                                                              runner):
        with AdbBackend(serial=serial, runner=runner) as backend: ...

Sets ``ANDROID_ADB_SERVER_PORT``/``ANDROID_ADB_SERVER_HOST`` in this process's environment to
the private server for the duration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .device import EmulatedDevice
from .fixtures import ADB, AdbServer, free_port, write_stand_in


@contextmanager
def emulated_phone(
    tmp: Path, stand_in: str, name: str
) -> Iterator[tuple[EmulatedDevice, str, Path]]:
    """(the phone, its adb serial, the stand-in ``stand_in`` as an executable ``name``).

    Raises:
        SystemExit: Debian's adb is not installed.
    """
    if ADB is None:
        raise SystemExit("adb is not installed (apt-get install adb)")
    runner = write_stand_in(stand_in, tmp / name)
    (tmp / "home").mkdir(exist_ok=True)
    server = AdbServer(free_port(), tmp / "home")
    saved = {k: os.environ.get(k) for k in ("ANDROID_ADB_SERVER_PORT", "ANDROID_ADB_SERVER_HOST")}
    os.environ.update(ANDROID_ADB_SERVER_PORT=str(server.port), ANDROID_ADB_SERVER_HOST="127.0.0.1")
    server.adb("start-server")
    phone = EmulatedDevice(tmp / "phone")
    phone.start()
    try:
        yield phone, server.attach(phone), runner
    finally:
        phone.stop()
        server.adb("kill-server")
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
