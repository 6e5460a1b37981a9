"""The adb transport protocol, device side: 24-byte message headers and their payloads.

Reference: AOSP ``packages/modules/adb/protocol.txt``. A message is six little-endian uint32
(command, arg0, arg1, data_length, data_check, magic) followed by ``data_length`` bytes;
``data_check`` is the byte sum of the payload and ``magic`` is ``command ^ 0xffffffff``.
From protocol version ``A_VERSION_SKIP_CHECKSUM`` on, receivers do not verify the checksum.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_WRTE = 0x45545257
A_CLSE = 0x45534C43

A_VERSION_MIN = 0x01000000
A_VERSION_SKIP_CHECKSUM = 0x01000001
MAX_PAYLOAD = 256 * 1024

NAMES = {
    A_CNXN: "CNXN",
    A_AUTH: "AUTH",
    A_OPEN: "OPEN",
    A_OKAY: "OKAY",
    A_WRTE: "WRTE",
    A_CLSE: "CLSE",
}
_HEADER = struct.Struct("<6I")


class ProtocolError(Exception):
    """The peer sent something that is not an adb message."""


@dataclass(frozen=True)
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return NAMES.get(self.command, hex(self.command))


def checksum(data: bytes) -> int:
    return sum(data) & 0xFFFFFFFF


def pack(msg: Message) -> bytes:
    """Header plus payload, checksum always filled in (harmless for newer peers)."""
    header = _HEADER.pack(
        msg.command, msg.arg0, msg.arg1, len(msg.data), checksum(msg.data), msg.command ^ 0xFFFFFFFF
    )
    return header + msg.data


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise EOFError("peer closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(sock: socket.socket, verify_checksum: bool = True) -> Message:
    """Read one message; raises EOFError when the peer closed, ProtocolError on bad framing."""
    command, arg0, arg1, length, check, magic = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic for command {command:#x}")
    if length > 16 * 1024 * 1024:
        raise ProtocolError(f"payload of {length} bytes is too large")
    data = _recv_exact(sock, length) if length else b""
    if verify_checksum and check != checksum(data):
        raise ProtocolError(f"bad checksum on {NAMES.get(command, hex(command))}")
    return Message(command, arg0, arg1, data)


def connect_banner(props: dict[str, str], features: tuple[str, ...]) -> bytes:
    """The CNXN payload of a device: ``device::k=v;...;features=a,b``."""
    fields = [
        f"{k}={props.get(k, '')}"
        for k in ("ro.product.name", "ro.product.model", "ro.product.device")
    ]
    fields.append("features=" + ",".join(features))
    return ("device::" + ";".join(fields)).encode()


# shell protocol v2 packets: [id u8][length u32 LE][data]
SHELL_STDIN, SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT = 0, 1, 2, 3
SHELL_CLOSE_STDIN, SHELL_WINDOW_SIZE = 4, 5


def shell_packet(packet_id: int, data: bytes) -> bytes:
    return struct.pack("<BI", packet_id, len(data)) + data
