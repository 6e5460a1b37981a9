"""adb's ``shell,v2:`` service read off one connection, under one deadline that may move.

The stream is packets of ``[id u8][len u32 LE][data]``: 1 stdout, 2 stderr, 3 the exit code
(AOSP ``adb/shell_protocol.h``). :func:`read_shell_v2` collects them until the exit code; what
arrives on stdout is also handed to ``on_stdout`` as it comes, and that callback may move the
deadline (a batch of runner calls: each call's limit starts when it starts), so a caller can
act on output long before the command ends. adbutils' own read waits up to its timeout per
read, and not at all for the stream's opening; here one :class:`Deadline` bounds it all.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass


class DeadlinePassed(Exception):
    """The command's deadline passed before its exit code came."""


@dataclass(frozen=True)
class ShellResult:
    returncode: int
    stdout: str
    stderr: str


class Deadline:
    """When a command must have ended: ``limit_s`` from now, movable with :meth:`restart`.
    ``float(deadline)`` is its current limit (for messages)."""

    def __init__(self, limit_s: float) -> None:
        self.restart(limit_s)

    def restart(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.at = time.monotonic() + limit_s

    def left_s(self) -> float:
        return self.at - time.monotonic()

    def __float__(self) -> float:
        return float(self.limit_s)


def read_shell_v2(
    sock: socket.socket,
    deadline: Deadline,
    heartbeat: Callable[[float], None] | None = None,
    on_stdout: Callable[[bytes], None] | None = None,
) -> ShellResult:
    """Read a ``shell,v2:`` answer from ``sock`` (the service already requested) until its exit
    code. ``heartbeat(seconds)`` ticks about once a second while nothing arrives.

    Raises:
        DeadlinePassed: ``deadline`` passed first.
        EOFError: the stream closed before the exit code.
        ConnectionError: the server refused the service (its FAIL message).
    """
    start = time.monotonic()

    def read(n: int) -> bytes:
        data = b""
        while len(data) < n:
            left = deadline.left_s()
            if left <= 0:
                raise DeadlinePassed
            sock.settimeout(min(1.0, left))
            try:
                chunk = sock.recv(n - len(data))
            except TimeoutError:
                if heartbeat is not None:
                    heartbeat(time.monotonic() - start)
                continue
            if not chunk:
                raise EOFError("the adb server closed the stream")
            data += chunk
        return data

    status = read(4)
    if status != b"OKAY":
        message = read(int(read(4), 16)).decode(errors="replace") if status == b"FAIL" else ""
        raise ConnectionRefusedError(message or f"unexpected answer {status!r}")
    out, err = bytearray(), bytearray()
    while True:
        header = read(5)
        kind, length = header[0], int.from_bytes(header[1:5], "little")
        data = read(length) if length else b""
        if kind == 1:
            out += data
            if on_stdout is not None and data:
                on_stdout(data)
        elif kind == 2:
            err += data
        elif kind == 3:
            code = data[0] if data else 255
            return ShellResult(code, out.decode(errors="replace"), err.decode(errors="replace"))
