"""One adb connection from the host's adb server: the CNXN handshake and its streams.

A reader thread dispatches the host's messages; each opened service runs in its own thread and
talks through a :class:`Stream`, which honours adb's flow control (one WRTE in flight per stream,
released by the host's OKAY).
"""

from __future__ import annotations

import itertools
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable

from .protocol import (
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_VERSION_SKIP_CHECKSUM,
    A_WRTE,
    MAX_PAYLOAD,
    Message,
    ProtocolError,
    pack,
    read_message,
)

log = logging.getLogger(__name__)


class StreamClosed(Exception):
    """The host closed the stream or the connection went away."""


class Stream:
    """One service's end of an OPEN: read what the host writes, write back, close."""

    def __init__(self, transport: Transport, local_id: int, remote_id: int) -> None:
        self.transport = transport
        self.local_id = local_id
        self.remote_id = remote_id
        self.inbox: queue.Queue[bytes | None] = queue.Queue()
        self._okay = threading.Semaphore(0)
        self.closed = threading.Event()
        self.on_close: Callable[[], None] | None = None  # e.g. kill a running process
        self._buffer = bytearray()

    def write(self, data: bytes) -> None:
        for i in range(0, len(data), self.transport.max_payload):
            if self.closed.is_set():
                raise StreamClosed
            self.transport.send(
                Message(
                    A_WRTE, self.local_id, self.remote_id, data[i : i + self.transport.max_payload]
                )
            )
            while not self._okay.acquire(timeout=0.5):
                if self.closed.is_set():
                    raise StreamClosed

    def read_exact(self, n: int) -> bytes:
        """Exactly ``n`` bytes of what the host wrote, across WRTE boundaries."""
        while len(self._buffer) < n:
            chunk = self.inbox.get()
            if chunk is None:
                self.inbox.put(None)
                raise StreamClosed
            self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self.transport.send(Message(A_CLSE, self.local_id, self.remote_id), quiet=True)
            self.transport.forget(self.local_id)

    # called by the transport's reader thread
    def _host_okay(self) -> None:
        self._okay.release()

    def _host_closed(self) -> None:
        self.closed.set()
        self.inbox.put(None)
        if self.on_close is not None:
            self.on_close()


class Transport:
    """The device side of one TCP connection from the adb server."""

    def __init__(
        self,
        sock: socket.socket,
        banner: bytes,
        resolve: Callable[[str], Callable[[Stream], None] | None],
        frozen: threading.Event | None = None,
    ) -> None:
        self.sock = sock
        self.frozen = frozen or threading.Event()  # set: send nothing (a hung phone)
        self.banner = banner
        self.resolve = resolve  # service name -> handler, None to refuse the service
        self.max_payload = MAX_PAYLOAD
        self.verify_checksum = True
        self._send_lock = threading.Lock()
        self._streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)
        self.alive = True

    def send(self, msg: Message, quiet: bool = False) -> None:
        while self.frozen.is_set():  # a hung phone: nothing leaves it until it thaws
            if not self.alive:
                if quiet:
                    return
                raise StreamClosed
            time.sleep(0.05)
        try:
            with self._send_lock:
                self.sock.sendall(pack(msg))
        except OSError:
            self.alive = False
            if not quiet:
                raise StreamClosed from None

    def forget(self, local_id: int) -> None:
        self._streams.pop(local_id, None)

    def close(self) -> None:
        """Drop the connection (as an unplugged cable would)."""
        self.alive = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def serve(self) -> None:
        """Handle messages until the host or :meth:`close` ends the connection."""
        try:
            while self.alive:
                self._handle(read_message(self.sock, self.verify_checksum))
        except (EOFError, OSError, ProtocolError, StreamClosed) as exc:
            log.debug("transport ended: %s", exc)
        finally:
            self.alive = False
            for stream in list(self._streams.values()):
                stream._host_closed()
            self._streams.clear()
            self.sock.close()

    def _handle(self, msg: Message) -> None:
        if msg.command == A_CNXN:
            version = min(msg.arg0, A_VERSION_SKIP_CHECKSUM)
            self.verify_checksum = version < A_VERSION_SKIP_CHECKSUM
            self.max_payload = min(msg.arg1, MAX_PAYLOAD)
            self.send(Message(A_CNXN, version, MAX_PAYLOAD, self.banner))
        elif msg.command == A_OPEN:
            self._open(msg.arg0, msg.data.rstrip(b"\0").decode(errors="replace"))
        elif msg.command == A_OKAY:
            stream = self._streams.get(msg.arg1)
            if stream is not None:
                stream._host_okay()
        elif msg.command == A_WRTE:
            stream = self._streams.get(msg.arg1)
            if stream is not None:
                stream.inbox.put(msg.data)
                self.send(Message(A_OKAY, stream.local_id, msg.arg0))
        elif msg.command == A_CLSE:
            stream = self._streams.pop(msg.arg1, None)
            if stream is not None:
                stream._host_closed()
        else:
            log.debug("ignoring %s", msg.name)

    def _open(self, remote_id: int, service: str) -> None:
        handler = self.resolve(service)
        if handler is None:
            log.debug("refusing service %r", service)
            self.send(Message(A_CLSE, 0, remote_id))
            return
        stream = Stream(self, next(self._ids), remote_id)
        self._streams[stream.local_id] = stream
        self.send(Message(A_OKAY, stream.local_id, remote_id))

        def run() -> None:
            try:
                handler(stream)
            except StreamClosed:
                pass
            except Exception:  # an emulator bug must not hang the host: close the stream
                log.exception("service %r failed", service)
            finally:
                stream.close()

        threading.Thread(target=run, name=f"adbemu-{service[:20]}", daemon=True).start()
