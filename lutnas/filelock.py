"""One writer per file: an exclusive ``flock`` on ``<file>.lock`` that names its holder.

The lock is taken on the file a path resolves to, so two names of one file (a symlink and its
target) share one lock. The holder removes the lock file when it lets go; the operating system
releases the lock when the holding process dies (kill -9 included), so a lock file left by a
killed process never blocks anyone: the next writer takes it over and removes it in turn. Its
text (pid, host, start time, command) only tells the next process who holds it. Without
``fcntl`` (not POSIX) files are written unlocked.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from pathlib import Path

from lutnas.errors import LutnasError


def lock_path(path: Path) -> Path:
    """The lock file of ``path``: beside the file it resolves to (symlinks followed)."""
    real = Path(os.path.realpath(path))
    return real.with_name(real.name + ".lock")


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
            LutnasError: another process holds it (the message names that process), or the
                lock file cannot be made (the directory is not writable here).
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise LutnasError(
                    f"{self.path} is being written by another process ({holder}); "
                    f"{self.busy_message}"
                ) from None
            if self._still_named(fd):
                break
            os.close(fd)  # its holder removed it between our open and our lock: again
        started = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        command = " ".join([os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]])[:300]
        text = f"pid {os.getpid()} on {socket.gethostname()}, since {started}: {command}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(), 0)
        self._fd = fd
        return self

    def _open(self) -> int:
        try:
            self.lock.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LutnasError(
                f"cannot write {self.path}: its lock file {self.lock} cannot be made "
                f"({exc.strerror}); {self.lock.parent} is not writable here. Choose another "
                "--out on writable storage (or make that directory writable)"
            ) from None

    def _still_named(self, fd: int) -> bool:
        """Whether the locked file is still the one at :attr:`lock` (not removed meanwhile)."""
        try:
            named = os.stat(self.lock)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.unlink(self.lock)  # while still locked: a waiter then sees it gone
            except OSError:
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
