"""One writer per file: an exclusive ``flock`` on ``<file>.lock`` that names its holder.

The operating system releases the lock when the holding process dies (kill -9 included), so a
stale lock file never blocks anyone; its text (pid, host, start time, command) only tells the
next process who holds it. Without ``fcntl`` (not POSIX) files are written unlocked.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from pathlib import Path

from lutnas.errors import LutnasError


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class WriterLock:
    """Hold ``<path>.lock`` exclusively while writing ``path``.

    Args:
        path: the file written under the lock.
        busy_message: what a second writer is told, after the holder's identity; e.g.
            "wait for it to finish, or choose another --out".
    """

    def __init__(self, path: Path, busy_message: str) -> None:
        self.path = Path(path)
        self.lock = lock_path(self.path)
        self.busy_message = busy_message
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        """Take the lock.

        Raises:
            LutnasError: another process holds it; the message names that process.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        try:
            self.lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LutnasError(
                f"cannot write {self.path} ({exc.strerror}: {exc.filename}); {self.busy_message}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LutnasError(
                f"{self.path} is being written by another process ({holder}); {self.busy_message}"
            ) from None
        started = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        command = " ".join([os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]])[:300]
        text = f"pid {os.getpid()} on {socket.gethostname()}, since {started}: {command}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
