"""An emulated Android phone on loopback that a real adb server attaches with ``adb connect``.

    phone = EmulatedDevice(tmp_path / "phone", DeviceProfile())
    port = phone.start()            # then: adb connect 127.0.0.1:<port>
    phone.faults.drop_after = 3     # fault injection, see :class:`Faults`
    phone.freeze()                  # stops answering (a hung phone); phone.thaw() undoes it
    phone.stop()

The CNXN banner advertises only ``shell_v2``, the one optional feature implemented here.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import services, shell
from .profile import (
    DeviceProfile,
    build_sandbox,
    set_cur_freq,
    set_temp,
    taskset_masks,
)
from .protocol import connect_banner
from .transport import Stream, Transport

log = logging.getLogger(__name__)
FEATURES = ("shell_v2",)
RUNNER_LIB = Path(__file__).with_name("runner_lib")  # on the stand-in runners' PYTHONPATH
_RUNNER_LINE = re.compile(r"(^|; )taskset [0-9a-f]+ ")  # a runner started pinned


@dataclass
class Faults:
    """What goes wrong, set by a test while the phone runs.

    Attributes:
        drop_after: after this many counted shell commands the next one drops the connection
            and the phone stays unreachable until :meth:`EmulatedDevice.restore`.
        drop_count_match: only shell commands containing this text are counted ('' = all).
        freeze_after: after this many counted shell commands the phone freezes while it runs
            the next one (:meth:`EmulatedDevice.freeze`), until :meth:`EmulatedDevice.thaw`.
        runner: 'crash', 'garbage', 'hang' or 'markers' makes the stand-in benchmark runner
            fail that way (hang: it never ends; markers: it prints lines shaped like a batch's
            markers; see runner_lib/adbemu_runner_hooks.py).
        runner_match: only runs whose own command line contains this text fail ('' = all;
            several runs in one shell each check their own).
        cut_at: text in a shell command's output; when it has come ``cut_after`` times, the
            phone sends what came before its next occurrence and then goes away as
            ``cut_how`` says: 'drop' (as :attr:`drop_after`) or 'freeze'. Clears itself.
        benchmark_release: the stand-in benchmark_model prints this older release's output
            ('2.13', '2.4', '2019' or '1.12'; the last two on stderr); None: current LiteRT.
    """

    drop_after: int | None = None
    drop_count_match: str = ""
    freeze_after: int | None = None
    runner: str | None = None
    runner_match: str = ""
    benchmark_release: str | None = None
    cut_at: str = ""
    cut_after: int = 0
    cut_how: str = "drop"


class _Cut:
    """Counts :attr:`Faults.cut_at` in a shell's output and says where to cut it."""

    def __init__(self, faults: Faults) -> None:
        self.text, self.left, self.fired = faults.cut_at.encode(), faults.cut_after, False

    def __call__(self, data: bytes) -> bytes | None:
        at = -1
        while self.left >= 0:
            at = data.find(self.text, at + 1)
            if at < 0:
                return None
            self.left -= 1
        self.fired = True
        return data[:at]


class EmulatedDevice:
    """A TCP server speaking the device side of the adb transport protocol."""

    def __init__(self, root: Path, profile: DeviceProfile | None = None) -> None:
        self.root = Path(root)
        self.profile = profile or DeviceProfile()
        build_sandbox(self.root, self.profile)
        self.faults = Faults()
        self.shell_commands: list[str] = []
        self._counted = 0
        self._offline = threading.Event()
        self.frozen = threading.Event()  # set: the phone sends nothing (see freeze())
        self._transports: list[Transport] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self.port = 0

    # lifecycle ---------------------------------------------------------------------------
    def start(self, port: int = 0) -> int:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(8)
        self._server = server
        self.port = server.getsockname()[1]
        threading.Thread(target=self._accept_loop, name=f"adbemu-{self.port}", daemon=True).start()
        return self.port

    @property
    def address(self) -> str:
        """The serial the adb server gives this phone after ``adb connect``."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self.drop()

    # faults ------------------------------------------------------------------------------
    def drop(self) -> None:
        """Cut every connection and stay unreachable (an unplugged phone)."""
        self._offline.set()
        with self._lock:
            transports, self._transports = self._transports, []
        for t in transports:
            t.close()

    def freeze(self) -> None:
        """Stop answering, as a hung phone does: the connection stays up and `adb devices`
        still lists the phone, but nothing more comes back (no output, no OKAY, no new
        streams) until :meth:`thaw`. Processes already running on it go on."""
        self.frozen.set()

    def thaw(self) -> None:
        self.faults.freeze_after = None
        self.frozen.clear()

    def runner_processes(self, name: str) -> list[int]:
        """Pids of the processes on this phone running the program ``name`` (an argument is
        its path on the phone), e.g. a runner a cut-off run left behind."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            args = [a.decode(errors="replace") for a in argv]
            if any(a.startswith(str(self.root)) and a.endswith(f"/{name}") for a in args):
                pids.append(int(entry.name))
        return pids

    def restore(self) -> None:
        """Become reachable again (the phone is plugged back in); clears ``drop_after``."""
        self.faults.drop_after = None
        self._offline.clear()

    def throttle(self, ratio: float = 0.6) -> None:
        """Cap the big cores below their maximum, as thermal throttling does."""
        top = max(self.profile.max_freq_khz)
        for cpu, khz in self._cpufreq_cores():
            if khz * 2 > top:  # the big cluster(s)
                set_cur_freq(self.root, cpu, int(khz * ratio))

    def unthrottle(self) -> None:
        for cpu, khz in self._cpufreq_cores():
            set_cur_freq(self.root, cpu, khz)

    def _cpufreq_cores(self) -> list[tuple[int, int]]:
        gone = set(self.profile.offline) | set(self.profile.hidden)
        return [(c, khz) for c, khz in enumerate(self.profile.max_freq_khz) if c not in gone]

    def set_temperature(self, zone: int, celsius: float) -> None:
        set_temp(self.root, zone, celsius)

    def taskset_masks(self) -> list[str]:
        return taskset_masks(self.root)

    def files(self, phone_dir: str = "/data/local/tmp") -> list[str]:
        """Phone paths of the regular files under ``phone_dir``."""
        base = shell.sandbox_path(phone_dir, self.root)
        return sorted("/" + str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    # serving -----------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        server = self._server
        while server is not None:
            try:
                sock, _ = server.accept()
            except OSError:
                return
            if self._offline.is_set():
                sock.close()
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = Transport(
                sock, connect_banner(self.profile.props, FEATURES), self._resolve, self.frozen
            )
            with self._lock:
                self._transports.append(transport)
            threading.Thread(target=transport.serve, daemon=True).start()

    def _resolve(self, service: str) -> Callable[[Stream], None] | None:
        if service == "sync:":
            return lambda stream: services.serve_sync(
                stream, lambda p: shell.sandbox_path(p, self.root)
            )
        parsed = services.parse_shell_service(service)
        if parsed is None or not parsed[1]:
            return None  # interactive shells and other services are not emulated
        v2, command = parsed
        return lambda stream: self._shell(stream, command, v2)

    def _shell(self, stream: Stream, command: str, v2: bool) -> None:
        self.shell_commands.append(command)
        faults = self.faults
        if not faults.drop_count_match or faults.drop_count_match in command:
            self._counted += 1
            if faults.drop_after is not None and self._counted > faults.drop_after:
                log.info("fault: dropping the connection at %r", command)
                self.drop()
                return
            if faults.freeze_after is not None and self._counted > faults.freeze_after:
                log.info("fault: freezing at %r", command)
                self.freeze()
        path = os.environ.get("PYTHONPATH")
        env = {"PYTHONPATH": str(RUNNER_LIB) + (os.pathsep + path if path else "")}
        if faults.runner and faults.runner_match in command:
            env["ADBEMU_RUNNER_FAULT"] = faults.runner
            env["ADBEMU_RUNNER_MATCH"] = faults.runner_match
        if faults.benchmark_release:
            env["ADBEMU_BENCHMARK_RELEASE"] = faults.benchmark_release
        cut = _Cut(faults) if faults.cut_at else None
        services.run_shell(stream, command, self.root, env, v2, cut)
        if cut is not None and cut.fired:
            log.info("fault: cut (%s) in the output of %r", faults.cut_how, command)
            faults.cut_at = ""
            self.freeze() if faults.cut_how == "freeze" else self.drop()

    def runner_calls(self, match: str = "") -> list[str]:
        """The runner command lines run so far whose text contains ``match``: one per runner
        call, whether its shell ran it alone or as one of a batch (a line each)."""
        return [
            line
            for command in self.shell_commands
            for line in command.splitlines()
            if _RUNNER_LINE.search(line) and match in line
        ]

    def reset_count(self) -> None:
        self._counted = 0
