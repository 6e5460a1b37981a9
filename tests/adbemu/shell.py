"""The emulated phone's shell: real ``/bin/sh`` commands whose phone paths live in a sandbox.

Absolute paths under the phone's top-level directories (``/data``, ``/sys``, ``/system``, ...)
are rewritten into the sandbox before the command runs, and the sandbox prefix is stripped from
what the command prints, so callers see the paths a phone would show. ``getprop`` and
``taskset`` come from shims in the sandbox's ``/system/bin``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

_PHONE_ROOTS = ("data", "sys", "sdcard", "system", "vendor", "storage")
_ROOTS_ALT = "|".join(_PHONE_ROOTS)
_PATH_RE = re.compile(rf"(?<![\w./-])/(?:{_ROOTS_ALT})(?=/|\s|$|[\"';|&)<>*])")


def to_sandbox(command: str, root: Path) -> str:
    """Rewrite phone paths in a shell command into ``root``."""
    prefix = str(root)
    return _PATH_RE.sub(lambda m: prefix + m.group(0), command)


def from_sandbox(output: bytes, root: Path) -> bytes:
    """Strip the sandbox prefix from command output."""
    return output.replace(str(root).encode(), b"")


def sandbox_path(phone_path: str, root: Path) -> Path:
    """The host path of an absolute phone path; refuses paths that leave the sandbox."""
    if not phone_path.startswith("/"):
        raise ValueError(f"not an absolute path: {phone_path!r}")
    path = (root / phone_path.lstrip("/")).resolve()
    if path != root.resolve() and root.resolve() not in path.parents:
        raise ValueError(f"path leaves the device: {phone_path!r}")
    return path


def start(
    command: str, root: Path, extra_env: dict[str, str], merge_stderr: bool
) -> subprocess.Popen:
    """Start ``command`` like ``adb shell`` would on the phone (cwd ``/``)."""
    env = {
        **os.environ,
        **extra_env,
        "PATH": f"{root / 'system/bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    return subprocess.Popen(
        ["/bin/sh", "-c", to_sandbox(command, root)],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
    )
