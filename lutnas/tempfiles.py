"""Temporary files beside the files they become, named after their writer, and swept when that
writer is gone.

A file written under a temporary name and renamed (or linked) into place is never seen
half-made, but a writer killed before the rename leaves its temporary file behind. Every such
name carries the writer's pid and host (:func:`temp_path`), so the next writer can tell a file
of a live process from one of a dead one and remove only the latter (:func:`sweep_stale`). A
file of another host, or of a live process, is never touched: sweeping is always safe.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from pathlib import Path

log = logging.getLogger(__name__)

# the leftovers SQLite makes beside a database under a temporary name
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
# names written before temporary names carried the host: removed once their pid is gone and
# they are this old (another host may share the directory)
_LEGACY_AGE_S = 3600.0


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"


def temp_path(path: Path, tag: str, hidden: bool = True) -> Path:
    """A temporary name for ``path`` in its directory: ``.NAME.PID@HOST.TAG`` (``hidden``) or
    ``NAME.PID@HOST.TAG``; ``tag`` says which writer made it (e.g. ``new``, ``repair``)."""
    dot = "." if hidden else ""
    return path.with_name(f"{dot}{path.name}.{os.getpid()}@{_host()}.{tag}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _stale(name: str, tags: tuple[str, ...], host: str) -> bool:
    side = "|".join(re.escape(s) for s in SQLITE_SIDE_FILES)
    tag = "|".join(re.escape(t) for t in tags)
    m = re.search(rf"\.(\d+)@([A-Za-z0-9_-]+)\.(?:{tag})(?:\.\d+)?(?:{side})?$", name)
    if m:
        return m[2] == host and not _pid_alive(int(m[1]))
    return False


def _legacy_stale(path: Path, tags: tuple[str, ...]) -> bool:
    tag = "|".join(re.escape(t) for t in tags)
    m = re.search(rf"\.(\d+)(?:\.\d+)?\.(?:{tag})$", path.name)
    if not m or _pid_alive(int(m[1])):
        return False
    try:
        return time.time() - path.stat().st_mtime > _LEGACY_AGE_S
    except OSError:
        return False


def sweep_stale(directory: Path, prefix: str, tags: tuple[str, ...]) -> list[Path]:
    """Remove the temporary files in ``directory`` whose names start with ``prefix`` and end in
    one of ``tags`` that a dead process of this host left (with SQLite's side files); returns
    what was removed. Nothing is raised: a file that cannot be removed stays."""
    host, removed = _host(), []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.is_file(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if _stale(entry.name, tags, host) or _legacy_stale(path, tags):
            try:
                path.unlink()
            except OSError:
                continue
            removed.append(path)
    if removed:
        log.info("removed %d temporary files left by killed runs in %s", len(removed), directory)
    return removed
