"""Files replaced whole or not at all, and the temporary files that make it so.

A file is written under a temporary name beside the target, synced, then renamed over it
(``os.replace``, atomic on POSIX), so a reader, a kill -9 or a full disk never meets a
half-written file. A failure while writing names the file the caller asked for (not the
temporary one, nor the source of a copy), and removes the temporary file.

    from lutnas.atomicfile import replace_atomically, write_text, copy_file
    with replace_atomically(out / "table.csv", newline="") as f:
        csv.writer(f).writerows(rows)
    write_text(out / "summary.json", text)
    copy_file(cached_onnx, out / "best_arch.onnx")

Writers that build a file another way (an SQLite database made whole, then renamed or linked
into place) name it with :func:`temp_path` and sweep with :func:`sweep_stale` too: there is one
way to name a temporary file and one way to tell a leftover from a file being written.

Every temporary name carries its writer's pid and host (``.NAME.PID@HOST.TAG``), so the next
writer can tell a file of a live process from one a killed process left, and removes only the
latter (with SQLite's side files). A file of another host (a directory shared over the network)
or of a live process is never touched, so sweeping is always safe. Names without the host, as
lutnas wrote them before (``.NAME.PID.TAG``), are removed once their pid is gone and they are an
hour old (another host may share the directory).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
TAG = "tmp"  # the tag of :func:`replace_atomically`'s temporary names
# the leftovers SQLite makes beside a database under a temporary name
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
# names written before temporary names carried the host: removed once their pid is gone and
# they are this old (another host may share the directory)
_LEGACY_AGE_S = 3600.0


# --- temporary names and their leftovers -------------------------------------------------------
def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"


def temp_path(path: Path, tag: str = TAG, hidden: bool = True) -> Path:
    """A temporary name for ``path`` in its directory: ``.NAME.PID@HOST.TAG`` (``hidden``) or
    ``NAME.PID@HOST.TAG``; ``tag`` says which writer made it (e.g. ``tmp``, ``new``,
    ``repair``)."""
    dot = "." if hidden else ""
    return path.with_name(f"{dot}{path.name}.{os.getpid()}@{_host()}.{tag}")


def pid_is_running(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (a zombie counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def is_stale(path: Path, tags: tuple[str, ...] = (TAG,)) -> bool:
    """Whether ``path`` is a temporary file (tagged one of ``tags``) a dead process of this host
    left, or one of its SQLite side files."""
    side = "|".join(re.escape(s) for s in SQLITE_SIDE_FILES)
    tag = "|".join(re.escape(t) for t in tags)
    m = re.search(rf"\.(\d+)@([A-Za-z0-9_-]+)\.(?:{tag})(?:\.\d+)?(?:{side})?$", path.name)
    if m:
        return m[2] == _host() and not pid_is_running(int(m[1]))
    return _legacy_stale(path, tag)


def _legacy_stale(path: Path, tag: str) -> bool:
    m = re.search(rf"\.(\d+)(?:\.\d+)?\.(?:{tag})$", path.name)
    if not m or pid_is_running(int(m[1])):
        return False
    try:
        return time.time() - path.stat().st_mtime > _LEGACY_AGE_S
    except OSError:
        return False


def sweep_stale(directory: Path, prefix: str, tags: tuple[str, ...] = (TAG,)) -> list[Path]:
    """Remove the temporary files in ``directory`` whose names start with ``prefix`` and end in
    one of ``tags`` that a dead process of this host left (with SQLite's side files); returns
    what was removed. Nothing is raised: a file that cannot be removed stays."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.is_file(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if is_stale(path, tags):
            try:
                path.unlink()
            except OSError:
                continue
            removed.append(path)
    if removed:
        log.info("removed %d temporary files left by killed runs in %s", len(removed), directory)
    return removed


def sweep_stale_of(path: Path, tags: tuple[str, ...] = (TAG,)) -> list[Path]:
    """:func:`sweep_stale` of the temporary files of ``path`` (``.NAME.…``) beside it."""
    return sweep_stale(path.parent, f".{path.name}.", tags)


def sync_directory(directory: Path) -> None:
    """Make the renames in ``directory`` durable (where the platform allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- files replaced whole ------------------------------------------------------------------------
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
    tmp = temp_path(path)
    sweep_stale_of(path)
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
