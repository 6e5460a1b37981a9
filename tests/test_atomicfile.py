"""``lutnas.atomicfile``: a file is replaced whole or not at all, a failure names the file asked
for, and temporary files of killed writers do not pile up. Real files; the failure is a real
error of the kernel (writing to ``/dev/full`` gives ENOSPC)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time

import pytest

from lutnas import atomicfile


def test_a_file_is_replaced_whole(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    atomicfile.write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_failure_keeps_the_old_file_and_names_the_one_asked_for(tmp_path):
    path = tmp_path / "best_arch.onnx"
    path.write_bytes(b"the previous network")
    with pytest.raises(OSError) as info:
        with atomicfile.replace_atomically(path, "wb") as f, open("/dev/full", "wb") as full:
            f.write(b"part of a new network")
            full.write(b"x")
            full.flush()  # ENOSPC as a full disk gives it to a write: no file name attached
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(path)
    assert path.read_bytes() == b"the previous network"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best_arch.onnx"]


def test_a_copy_names_a_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        atomicfile.copy_file(tmp_path / "cache.onnx", tmp_path / "out.onnx")
    assert info.value.filename == str(tmp_path / "cache.onnx")
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    return int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_temporaries_of_killed_writers_are_removed_and_live_ones_kept(tmp_path):
    path = tmp_path / "summary.json"
    dead = atomicfile.temp_path(path).name.replace(f".{os.getpid()}@", f".{_dead_pid()}@")
    live = atomicfile.temp_path(path).name.replace(f".{os.getpid()}@", f".{os.getppid()}@")
    (tmp_path / dead).write_text("left by a kill")
    (tmp_path / live).write_text("a writer that still runs")
    atomicfile.write_text(path, "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live, "summary.json"])


def test_temporaries_of_another_host_are_kept(tmp_path):
    # before one module named every temporary file, replace_atomically's names carried no host,
    # so a writer on another host sharing the directory had its file removed from under it
    path = tmp_path / "summary.json"
    other = f".summary.json.{_dead_pid()}@another-host.tmp"
    (tmp_path / other).write_text("being written on another machine")
    atomicfile.write_text(path, "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other, "summary.json"])


def test_temporaries_named_the_old_way_are_removed_once_an_hour_old(tmp_path):
    path = tmp_path / "summary.json"
    old, young = (tmp_path / f".summary.json.{_dead_pid()}.tmp" for _ in range(2))
    for file in (old, young):
        file.write_text("left by a kill before temporary names carried the host")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    atomicfile.write_text(path, "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([young.name, "summary.json"])
