"""``lutnas search --workers N`` killed with -9 leaves no worker behind: each worker watches its
parent and ends with it (a real search, real spawned workers, a real SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_search_resume import _command, _env

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:  # field 4 of /proc/PID/stat: the parent pid
                out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_end_when_the_search_is_killed(predictor_path, tmp_path):
    search = subprocess.Popen(
        _command(predictor_path, tmp_path / "out", workers=2),
        env=_env(tmp_path / "eval.log"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while time.monotonic() < deadline and not (tmp_path / "eval.log").exists():
            workers |= _children(search.pid)  # the pool's processes, once they evaluate
            time.sleep(0.1)
        workers |= _children(search.pid)
        assert (tmp_path / "eval.log").exists(), "the search never evaluated anything"
        workers = {w for w in workers if _alive(w)}
        assert len(workers) >= 2
        os.kill(search.pid, signal.SIGKILL)  # the parent only, as `kill -9 PID` does
        search.wait(timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        assert [w for w in workers if _alive(w)] == []
    finally:
        if search.poll() is None:
            search.kill()
