"""Files replaced whole or not at all: written under a temporary name beside the target, synced,
then renamed over it (``os.replace``, atomic on POSIX), so a reader, a kill -9 or a full disk
never meets a half-written file.

A failure while writing names the file the caller asked for (not the temporary one, nor the
source of a copy), and removes the temporary file. Temporary names are ``.NAME.PID.tmp``; ones
left by a process that was killed (its pid no longer runs) are removed the next time NAME is
written.

    from lutnas.atomicfile import replace_atomically, write_text, copy_file
    with replace_atomically(out / "table.csv", newline="") as f:
        csv.writer(f).writerows(rows)
    write_text(out / "summary.json", text)
    copy_file(cached_onnx, out / "best_arch.onnx")
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_CHUNK = 1 << 20


def temporary_name(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place (this process's name)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def pid_is_running(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (a zombie counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files of ``path`` left by killed processes (``.NAME.PID.tmp``)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.tmp")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match and int(match[1]) != os.getpid() and not pid_is_running(int(match[1])):
            with contextlib.suppress(OSError):
                os.unlink(path.parent / name)


def sync_directory(directory: Path) -> None:
    """Make the renames in ``directory`` durable (where the platform allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def replace_atomically(
    path: str | Path, mode: str = "w", *, newline: str | None = None
) -> Iterator[IO]:
    """Open a temporary file for writing; when the block ends without an error it is synced and
    renamed to ``path``, otherwise removed (``path`` keeps its old content, if any).

    Text modes write UTF-8.

    Raises:
        OSError: the storage failed; its ``filename`` is ``path``.
    """
    path = Path(path)
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    tmp = temporary_name(path)
    remove_stale_temporaries(path)
    try:
        encoding = None if "b" in mode else "utf-8"
        with open(tmp, mode, encoding=encoding, newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if exc.filename in (None, str(tmp), os.fspath(tmp)):  # ours, not a file being read
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    sync_directory(path.parent)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically (see :func:`replace_atomically`)."""
    with replace_atomically(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Replace ``path`` with ``text`` (UTF-8) atomically (see :func:`replace_atomically`)."""
    return write_bytes(path, text.encode())


def copy_file(source: str | Path, path: str | Path) -> Path:
    """Copy ``source`` to ``path`` atomically. A read failure names ``source``, a write
    failure ``path``."""
    with open(source, "rb") as src, replace_atomically(path, "wb") as dst:
        while chunk := _read(src, source):
            dst.write(chunk)
    return Path(path)


def _read(f: IO[bytes], name: str | Path) -> bytes:
    try:
        return f.read(_CHUNK)
    except OSError as exc:  # name the source, or the error would be taken for a write's
        raise OSError(exc.errno, exc.strerror, str(name)) from exc
