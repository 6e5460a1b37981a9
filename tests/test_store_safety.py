"""A LUT under stress: a second writer, a file appearing mid-creation, read-only storage, merges
of different settings. Real processes, real SQLite, a real read-only mount where allowed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from test_store import CONFIG, DEVICE, SETTINGS, A, m, new_store

from lut.export import merge
from lut.store import LutStore
from lutnas.errors import LutnasError

HOLD = textwrap.dedent(
    """
    import sys
    from lut.store import LutStore
    store = LutStore.create_or_resume(sys.argv[1], {config!r}, {device!r}, {settings!r})
    print("holding", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    store.close()
    """
)


def test_a_second_writer_is_refused_naming_the_first(tmp_path):
    path = tmp_path / "one.lut"
    code = HOLD.format(config=CONFIG, device=DEVICE, settings=SETTINGS)
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(
            LutnasError,
            match=rf"being written by another process \(pid "
            rf"{holder.pid} .*choose another --out",
        ):
            LutStore.create_or_resume(path, CONFIG, DEVICE, SETTINGS)
        with LutStore.open(path, writable=False) as reader:  # reading is fine meanwhile
            assert reader.backend_config == {"precision": "fp32", **CONFIG}
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with LutStore.create_or_resume(path, CONFIG, DEVICE, SETTINGS) as store:  # free again
        store.put_layer(A, m(1.0))


def test_the_lock_goes_with_a_killed_writer(tmp_path):
    path = tmp_path / "killed.lut"
    code = HOLD.format(config=CONFIG, device=DEVICE, settings=SETTINGS)
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    holder.kill()  # kill -9: no clean-up runs
    holder.wait(timeout=30)
    with LutStore.create_or_resume(path, CONFIG, DEVICE, SETTINGS) as store:
        assert store.layer_count() == 0


def test_creation_is_all_or_nothing(tmp_path, monkeypatch):
    path = tmp_path / "race.lut"
    new_store(tmp_path / "other.lut").close()

    def someone_else_was_faster(src, dst):
        shutil.copy(tmp_path / "other.lut", dst)
        raise FileExistsError(dst)

    monkeypatch.setattr("lut.store_util.os.link", someone_else_was_faster)
    with pytest.raises(LutnasError, match="created by another process just now"):
        LutStore.create(path, CONFIG, DEVICE, SETTINGS)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir() if ".new" in p.name] == []  # no half-made file
    with LutStore.open(path) as store:  # the other process's file is intact
        assert store.backend_config == {"precision": "fp32", **CONFIG}


def test_a_reader_opened_read_only_cannot_write(tmp_path):
    path = tmp_path / "ro.lut"
    with new_store(path) as s:
        s.put_layer(A, m(1.0))
    with LutStore.open(path, writable=False) as s:
        assert s.latency_ms([A.key]) == pytest.approx({A.key: 1.0})
        with pytest.raises(Exception, match="readonly"):
            s.put_layer(A, m(2.0))


def _read_only_mount_works() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o ro tmpfs /mnt"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _read_only_mount_works(), reason="needs root and mount namespaces")
def test_a_lut_on_read_only_storage_can_be_read_and_not_profiled_into(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with new_store(data / "t.lut") as s:
        s.put_layer(A, m(1.0))
    script = textwrap.dedent(
        f"""
        from lut.store import LutStore
        from lutnas.errors import LutnasError
        with LutStore.open({str(data / "t.lut")!r}) as s:   # the default, writable, falls back
            print("rows", s.layer_count())
        try:
            LutStore.create_or_resume({str(data / "t.lut")!r}, {CONFIG!r}, {DEVICE!r},
                                      {SETTINGS!r})
        except LutnasError as exc:
            print("refused:", exc)
        """
    )
    d = str(data)
    shell = (
        f"mount --bind {d} {d} && mount -o remount,bind,ro {d} && "
        f'{sys.executable} -c "$SCRIPT" && {sys.executable} -m lutnas.cli.main lut show {d}/t.lut'
    )
    r = subprocess.run(
        ["unshare", "-m", "sh", "-c", shell],
        capture_output=True,
        text=True,
        env={**os.environ, "SCRIPT": script},
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "rows 1" in r.stdout and "layers: 1" in r.stdout
    assert "refused:" in r.stdout and "read-only here" in r.stdout


def test_merge_names_the_settings_that_differ(tmp_path):
    a, b = tmp_path / "a.lut", tmp_path / "b.lut"
    new_store(a).close()
    LutStore.create(b, CONFIG, DEVICE, {**SETTINGS, "runs": 100}).close()
    with pytest.raises(LutnasError, match="runs: a.lut has 50, b.lut 100"):
        merge(tmp_path / "out.lut", [a, b])


def test_a_directory_as_the_lut_gets_a_file_name_suggested(tmp_path):
    for call in (
        lambda: LutStore.open(tmp_path),
        lambda: LutStore.create_or_resume(tmp_path, CONFIG, DEVICE, SETTINGS),
    ):
        with pytest.raises(LutnasError, match="is a directory; a LUT is one file.*host.lut"):
            call()
