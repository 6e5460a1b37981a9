"""The services an emulated phone offers on a stream: ``shell,v2``, plain ``shell`` and ``sync``.

``shell,v2,ARGS:CMD`` answers with [id u8][len u32 LE][data] packets: 1 stdout, 2 stderr and a
final 3 with the one-byte exit code. Plain ``shell:CMD`` sends merged output and closes (no exit
code). ``sync:`` serves STAT, LIST, SEND (DATA.../DONE), RECV and QUIT; requests may arrive split
across any number of WRTE messages.
"""

from __future__ import annotations

import os
import selectors
import stat
import struct
from collections.abc import Callable
from pathlib import Path

from . import shell
from .protocol import SHELL_EXIT, SHELL_STDERR, SHELL_STDOUT, shell_packet
from .transport import Stream, StreamClosed

SYNC_DATA_MAX = 64 * 1024


def _exit_byte(returncode: int) -> int:
    return (128 - returncode if returncode < 0 else returncode) & 0xFF  # -SIG -> 128+SIG


def run_shell(
    stream: Stream,
    command: str,
    root: Path,
    env: dict[str, str],
    v2: bool,
    on_stdout: Callable[[bytes], bytes | None] | None = None,
) -> None:
    """Run ``command`` and send its output as it comes, as adbd does (a batch of runner calls
    is read while it runs). ``on_stdout(chunk)`` may cut the stream: it returns what of the
    chunk to send before the phone goes away (None: all of it, and go on)."""
    proc = shell.start(command, root, env, merge_stderr=not v2)
    stream.on_close = proc.kill
    kinds = {proc.stdout.fileno(): SHELL_STDOUT}
    if v2:
        kinds[proc.stderr.fileno()] = SHELL_STDERR
    pending = {fd: b"" for fd in kinds}  # whole lines only: the sandbox path never splits
    with selectors.DefaultSelector() as sel:
        for fd in kinds:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            for key, _ in sel.select():
                data = os.read(key.fd, 65536)
                if data:
                    whole, nl, pending[key.fd] = (pending[key.fd] + data).rpartition(b"\n")
                    data = whole + nl
                else:
                    sel.unregister(key.fd)
                    data, pending[key.fd] = pending[key.fd], b""
                if not data:
                    continue
                data = shell.from_sandbox(data, root)
                cut = on_stdout(data) if on_stdout and kinds[key.fd] == SHELL_STDOUT else None
                try:
                    if cut is not None:
                        if cut:
                            stream.write(shell_packet(SHELL_STDOUT, cut) if v2 else cut)
                        proc.kill()
                        return
                    stream.write(shell_packet(kinds[key.fd], data) if v2 else data)
                except StreamClosed:
                    proc.kill()
                    return
    proc.wait()
    if v2 and not stream.closed.is_set():
        stream.write(shell_packet(SHELL_EXIT, bytes([_exit_byte(proc.returncode)])))


def parse_shell_service(service: str) -> tuple[bool, str] | None:
    """``shell,v2,raw:ls`` -> (True, "ls"); ``shell:ls`` -> (False, "ls"); else None."""
    head, sep, command = service.partition(":")
    if not sep or not head.startswith("shell"):
        return None
    args = head.split(",")[1:]
    if head.split(",")[0] != "shell":
        return None
    return "v2" in args, command


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _fail(stream: Stream, message: str) -> None:
    data = message.encode()
    stream.write(b"FAIL" + _u32(len(data)) + data)


def serve_sync(stream: Stream, to_host_path: Callable[[str], Path]) -> None:
    """Serve sync requests until QUIT or the stream closes."""
    while True:
        request = stream.read_exact(4)
        length = struct.unpack("<I", stream.read_exact(4))[0]
        if request == b"QUIT":
            return
        if length > 1024 * 1024:
            _fail(stream, "request too long")
            return
        arg = stream.read_exact(length).decode(errors="replace")
        try:
            if request == b"STAT":
                _stat(stream, to_host_path(arg))
            elif request == b"LIST":
                _list(stream, to_host_path(arg))
            elif request == b"SEND":
                phone_path, _, mode = arg.rpartition(",")
                _send(stream, to_host_path(phone_path), int(mode or "33188"))
            elif request == b"RECV":
                _recv(stream, to_host_path(arg))
            else:
                _fail(stream, f"unknown sync request {request!r}")
                return
        except ValueError as exc:
            _fail(stream, str(exc))
            return


def _stat(stream: Stream, path: Path) -> None:
    try:
        st = path.stat()
        fields = (st.st_mode, st.st_size, int(st.st_mtime))
    except OSError:
        fields = (0, 0, 0)
    stream.write(b"STAT" + struct.pack("<3I", *(f & 0xFFFFFFFF for f in fields)))


def _list(stream: Stream, path: Path) -> None:
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        entries = []
    for entry in entries:
        st = entry.stat(follow_symlinks=False)
        name = entry.name.encode()
        stream.write(
            b"DENT"
            + struct.pack("<4I", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime), len(name))
            + name
        )
    stream.write(b"DONE" + bytes(16))


def _send(stream: Stream, path: Path, mode: int) -> None:
    """Receive DATA chunks until DONE; the file appears only when complete."""
    tmp = path.with_name(path.name + ".adbemu-partial")
    error = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(tmp, "wb")
    except OSError as exc:
        f, error = None, str(exc)
    try:
        while True:
            kind = stream.read_exact(4)
            size = struct.unpack("<I", stream.read_exact(4))[0]
            if kind == b"DONE":
                break
            if kind != b"DATA" or size > SYNC_DATA_MAX:
                raise ValueError(f"bad sync data packet {kind!r} of {size} bytes")
            chunk = stream.read_exact(size)
            if f is not None:
                f.write(chunk)
    finally:
        if f is not None:
            f.close()
    if error is not None:
        tmp.unlink(missing_ok=True)
        _fail(stream, error)
        return
    os.chmod(tmp, stat.S_IMODE(mode) or 0o644)
    os.replace(tmp, path)
    stream.write(b"OKAY" + _u32(0))


def _recv(stream: Stream, path: Path) -> None:
    try:
        with open(path, "rb") as f:
            while chunk := f.read(SYNC_DATA_MAX):
                stream.write(b"DATA" + _u32(len(chunk)) + chunk)
    except OSError as exc:
        _fail(stream, f"{exc.strerror}")
        return
    stream.write(b"DONE" + _u32(0))
