"""Running a command in a private mount namespace (``unshare -m``), where a test may mount a
small tmpfs (a real full disk) without touching the machine's mounts. Needs root; tests skip
where :func:`tmpfs_works` is False."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tmpfs_works() -> bool:
    """Whether this process may mount a tmpfs in a mount namespace of its own."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


def run_on_small_disk(
    disk: Path, size: int | str, script: str, *args: str, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the Python ``script`` with ``args`` while a tmpfs of ``size`` bytes (or ``"1m"``) is
    mounted at ``disk``, in this repository, with ``env`` added to the environment."""
    import sys

    shell = (
        f"mount -t tmpfs -o size={size} tmpfs {disk} && "
        f'{sys.executable} -c "$SCRIPT" ' + " ".join(args)
    )
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", shell],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {}), "SCRIPT": script},
        timeout=600,
    )
