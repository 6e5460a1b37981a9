"""``lutnas.atomicfile``: a file is replaced whole or not at all, a failure names the file asked
for, and temporary files of killed writers do not pile up. Real files; the failure is a real
error of the kernel (writing to ``/dev/full`` gives ENOSPC)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

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


def test_temporaries_of_killed_writers_are_removed_and_live_ones_kept(tmp_path):
    path = tmp_path / "summary.json"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (tmp_path / f".summary.json.{dead}.tmp").write_text("left by a kill")
    (tmp_path / f".summary.json.{os.getppid()}.tmp").write_text("a writer that still runs")
    atomicfile.write_text(path, "{}")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f".summary.json.{os.getppid()}.tmp", "summary.json"]
