"""Several files pushed to a phone in one ``sync:`` session.

adbutils opens two sessions per file (a STAT, then the SEND), each a fresh connection through
the adb server; a batch of layers sends all its model files through one: per file ``SEND
path,mode``, ``DATA`` chunks of at most 64 KiB, ``DONE mtime``, then the phone's ``OKAY`` (or
``FAIL`` and why) before the next, and ``QUIT`` at the end (AOSP ``adb/SYNC.TXT``). Each file
is acknowledged before the next is sent, so a phone that refuses one (a full disk) is named
with the file it refused.
"""

from __future__ import annotations

import stat
import struct
import time
from collections.abc import Sequence
from pathlib import Path

CHUNK_BYTES = 64 * 1024  # the protocol's largest DATA packet


class SyncRefused(OSError):
    """The phone answered FAIL to a file; the message names it and the phone's reason."""


def _exactly(conn, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("the adb server closed the sync session")
        data += chunk
    return data


def push_files(device, files: Sequence[tuple[Path, str, int]], timeout_s: float) -> int:
    """Send each ``(local, remote, mode)`` through one sync session of adbutils' ``device``
    (``timeout_s`` of silence is a failure); returns the bytes sent.

    Raises:
        SyncRefused: the phone refused a file.
        OSError, EOFError: the connection failed.
    """
    sent = 0
    with device.open_transport(timeout=timeout_s) as c:
        c.send_command("sync:")
        c.check_okay()
        sock = c.conn
        sock.settimeout(timeout_s)
        for local, remote, mode in files:
            target = f"{remote},{stat.S_IFREG | mode}".encode()
            sock.sendall(b"SEND" + struct.pack("<I", len(target)) + target)
            with open(local, "rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    sock.sendall(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                    sent += len(chunk)
            sock.sendall(b"DONE" + struct.pack("<I", int(time.time())))
            answer = _exactly(sock, 4)
            length = struct.unpack("<I", _exactly(sock, 4))[0]
            if answer != b"OKAY":
                reason = _exactly(sock, length).decode(errors="replace") if length else ""
                raise SyncRefused(f"the phone refused {Path(local).name}: {reason or answer!r}")
        sock.sendall(b"QUIT" + struct.pack("<I", 0))
    return sent
