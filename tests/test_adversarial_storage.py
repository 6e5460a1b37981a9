"""The storage probes of the adversarial run of 2026-12-02 (issue 25), kept so the figure
cannot slip back. Each test is one probe, named for what it guarded against when it failed:

- ``test_lost_*``: data was lost or left unrecoverable;
- ``test_silent_*``: a command succeeded with a wrong result;
- ``test_message_*``: the user was told the wrong thing, or left litter behind.

Real files, real SQLite, real processes (kill -9), a real read-only mount and a real full
file system where this machine allows them (root and mount namespaces), small inputs. The
probes use only what lutnas offered before the fix (the store, the commands, the export
cache), so they can be run against that code too.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lut.identity import with_identity_defaults
from lut.measurement import Measurement
from lut.store import LutStore
from lutnas.cli.main import main
from lutnas.errors import LutnasError
from lutnas.filelock import WriterLock
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space
from profiler.base import Workload

ROOT = Path(__file__).resolve().parents[1]
PAGE = 4096
CONFIG = {"backend": "made-up", "threads": 1}
SETTINGS = {"runs": 3}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))


def _specs(n: int):
    return get_space("mnasnet").unique_layers(224)[:n]


def _lut(path: Path, layers: int = 105, models: int = 8) -> Path:
    """A LUT of made-up measurements: ``layers`` layer rows and ``models`` whole models
    (about 80 KB at the defaults, as the LUT of the adversarial run)."""
    LutStore.create(path, CONFIG, {"name": "made-up"}, SETTINGS).close()
    with LutStore.open(path) as store:
        for i, spec in enumerate(_specs(layers)):
            store.put_layer(spec, Measurement.from_samples([1 + i / 100, 1.05 + i / 100], 1))
        for j, arch in enumerate(sample_archs(get_space("mnasnet"), models)):
            store.put_model(arch, Measurement.from_samples([5 + j, 5.5 + j], 1))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return path


_STATS = ("median_ms", "mean_ms", "std_ms", "p10_ms", "p90_ms", "n", "warmup")


def _truth(path: Path) -> dict[str, tuple]:
    """Every row of a sound file, read by SQLite: key -> its statistics."""
    conn = sqlite3.connect(path)
    out = {}
    for table, key in (("layers", "key"), ("models", "arch_key")):
        sql = f"SELECT {key}, {', '.join(_STATS)} FROM {table}"
        out.update({r[0]: tuple(r[1:]) for r in conn.execute(sql)})
    conn.close()
    return out


def _leaf_pages(path: Path) -> dict[str, int]:
    """key -> the leaf page its row is on, from SQLite's dbstat: leaves in tree order hold
    the rows in row-id order."""
    conn = sqlite3.connect(path)
    out = {}
    try:
        for table, key in (("layers", "key"), ("models", "arch_key")):
            leaves = conn.execute(
                "SELECT pageno, ncell FROM dbstat WHERE name = ? AND pagetype = 'leaf' "
                "ORDER BY path",
                (table,),
            ).fetchall()
            keys = [r[0] for r in conn.execute(f"SELECT {key} FROM {table} ORDER BY rowid")]
            pages = [page for page, cells in leaves for _ in range(cells)]
            assert len(pages) == len(keys)
            out.update(zip(keys, pages, strict=True))
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    finally:
        conn.close()
    return out


def _repair(src: Path, capsys) -> tuple[int, dict[str, tuple], str]:
    out = src.with_name(src.stem + ".fixed.lut")
    code = main(["lut", "repair", str(src), "--out", str(out)])
    text = capsys.readouterr()
    return code, (_truth(out) if code == 0 else {}), text.out + text.err


# --- lost or unrecoverable ------------------------------------------------------------------


def test_lost_a_file_cut_short_gives_back_every_row_on_its_intact_pages(tmp_path, capsys):
    path = _lut(tmp_path / "a.lut")
    truth, pages = _truth(path), _leaf_pages(path)
    size = 60000  # `truncate -s 60000` of a LUT of ~80 KB: its first 14 pages intact
    assert path.stat().st_size > size + 2 * PAGE
    cut = tmp_path / "cut.lut"
    cut.write_bytes(path.read_bytes()[:size])
    intact = {k for k, page in pages.items() if page * PAGE <= size}
    assert len(intact) > 50

    code, got, text = _repair(cut, capsys)
    assert code == 0, text
    assert intact <= set(got), f"lost {len(intact - set(got))} rows of intact pages"
    assert all(got[k] == truth[k] for k in got)  # nothing recovered wrong


def _header_page_count(data: bytearray) -> None:
    data[31] ^= 0x07  # the low byte of the in-header database size


def _meta_format_row(data: bytearray) -> None:
    data[data.find(b'"lutnas-lut"') + 3] ^= 0x40  # "lu4nas-lut"


@pytest.mark.parametrize("damage", [_header_page_count, _meta_format_row], ids=lambda f: f.__name__)
def test_lost_one_bad_byte_loses_nothing(tmp_path, capsys, damage):
    path = _lut(tmp_path / "a.lut")
    truth = _truth(path)
    data = bytearray(path.read_bytes())
    damage(data)
    path.write_bytes(bytes(data))

    assert main(["lut", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and "lut repair" in err, err
    code, got, text = _repair(path, capsys)
    assert code == 0, text
    assert got == truth
    with LutStore.open(path.with_name("a.fixed.lut")) as store:
        # backend_config reads with the identity defaults (lut.identity): fp32 for this file
        assert store.backend_config == with_identity_defaults(CONFIG)
        assert store.settings == SETTINGS


# --- silently wrong -------------------------------------------------------------------------


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys
    from lut.measurement import Measurement
    from lut.store import LutStore
    from lutnas.spaces.space import get_space
    store = LutStore.create_or_resume(sys.argv[1], {config!r}, {{}}, {settings!r})
    for i, spec in enumerate(get_space("mnasnet").unique_layers(224)[:8]):
        store.put_layer(spec, Measurement.from_samples([1 + i, 1.1 + i], 1))
    os.kill(os.getpid(), 9)  # no checkpoint, no clean-up: the rows are in the -wal only
    """
).format(config=CONFIG, settings=SETTINGS)


def _read_only_mounts() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o ro tmpfs /mnt"]
    return subprocess.run(probe, capture_output=True).returncode == 0


NEEDS_MOUNTS = pytest.mark.skipif(
    not _read_only_mounts() and os.geteuid() == 0,
    reason="needs mount namespaces as root, or a non-root user (read-only by permissions)",
)


def _on_read_only(directory: Path, argv: list[str], **kw) -> subprocess.CompletedProcess:
    """Run ``argv`` with ``directory`` read-only: a read-only bind mount in a mount namespace
    (root), else the directory's write permission taken away."""
    if os.geteuid() == 0:
        d = str(directory)
        script = f'mount --bind {d} {d} && mount -o remount,bind,ro {d} && exec "$@"'
        argv = ["unshare", "-m", "sh", "-c", script, "sh", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)
    directory.chmod(0o555)
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)
    finally:
        directory.chmod(0o755)


def _lutnas(*args: str) -> list[str]:
    return [sys.executable, "-m", "lutnas.cli.main", *args]


@NEEDS_MOUNTS
@pytest.mark.parametrize("with_shm", [False, True], ids=["wal-only", "wal-and-shm"])
def test_silent_a_wal_on_read_only_storage_is_read_with_it(tmp_path, with_shm):
    killed = tmp_path / "killed"
    killed.mkdir()
    r = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(killed / "k.lut")])
    assert r.returncode == -9
    assert (killed / "k.lut-wal").stat().st_size > 0
    data = tmp_path / "data"
    data.mkdir()
    for name in ("k.lut", "k.lut-wal", *(["k.lut-shm"] if with_shm else [])):
        shutil.copy(killed / name, data / name)  # e.g. copied off a phone or a backup

    r = _on_read_only(data, _lutnas("lut", "show", str(data / "k.lut")))
    assert r.returncode == 0, r.stderr
    assert "layers: 8" in r.stdout, r.stdout
    assert sorted(p.name for p in data.iterdir()) == sorted(
        ["k.lut", "k.lut-wal", *(["k.lut-shm"] if with_shm else [])]
    )


def test_silent_a_symlink_to_a_lut_takes_the_same_writer_lock(tmp_path):
    path = _lut(tmp_path / "a.lut", layers=3, models=0)
    link = tmp_path / "link.lut"
    link.symlink_to(path)
    with WriterLock(path, "wait"):  # another process profiling into a.lut
        with pytest.raises(LutnasError, match="being written by another process"):
            LutStore.create_or_resume(link, CONFIG, {"name": "made-up"}, SETTINGS)
    with WriterLock(link, "wait"):  # and the other way round
        with pytest.raises(LutnasError, match="being written by another process"):
            LutStore.edit(path)


def _layer_leaf_bytes(path: Path) -> list[int]:
    """Offsets of the bytes of the layers table's leaf pages."""
    pages = sorted(set(_leaf_pages(path).values()))
    conn = sqlite3.connect(path)
    layer_pages = {
        r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = 'layers'").fetchall()
    }
    conn.close()
    return [(page - 1) * PAGE + i for page in pages if page in layer_pages for i in range(PAGE)]


def _read_layers(path: Path) -> dict[str, tuple] | None:
    """What a reader gets from the store (None: it refused the file with an error)."""
    try:
        with LutStore.open(path, writable=False) as store:
            frame = store.layers_frame()
    except LutnasError:
        return None
    return {
        row.key: tuple(None if v != v else v for v in (getattr(row, c) for c in _STATS))
        for row in frame.itertuples()
    }


def test_silent_single_bit_flips_in_layer_pages_never_reach_a_reader(tmp_path, caplog):
    path = _lut(tmp_path / "a.lut", models=0)
    truth = {k: v for k, v in _truth(path).items()}
    offsets, original = _layer_leaf_bytes(path), path.read_bytes()
    rng = random.Random(25)
    changed_stats = wrong = 0
    flipped = tmp_path / "flipped.lut"
    caplog.set_level(logging.WARNING)
    for _ in range(300):
        data = bytearray(original)
        data[rng.choice(offsets)] ^= 1 << rng.randrange(8)
        flipped.write_bytes(bytes(data))
        now = _truth_or_none(flipped)
        if now is not None and any(now.get(k, v) != v for k, v in truth.items()):
            changed_stats += 1  # SQLite itself reads a changed statistic
        read = _read_layers(flipped)
        if read is not None:
            wrong += sum(1 for k, v in read.items() if truth.get(k) != v)
    assert changed_stats > 10  # the probe does change stored statistics
    assert wrong == 0, f"{wrong} changed rows reached a reader"


def _truth_or_none(path: Path) -> dict[str, tuple] | None:
    try:
        return _truth(path)
    except sqlite3.DatabaseError:
        return None


def test_silent_fit_does_not_take_a_changed_row(tmp_path, caplog):
    from predictor_fixtures import variants

    from predictor.fit import fit_predictor

    path = tmp_path / "a.lut"
    archs = variants(8)
    LutStore.create(path, CONFIG, {"name": "made-up"}, SETTINGS).close()
    with LutStore.open(path) as store:
        specs = {s.key: s for a in archs for s in a.layers()}
        for i, spec in enumerate(specs.values()):
            store.put_layer(spec, Measurement.from_samples([0.1 + i / 500, 0.11 + i / 500], 1))
        for j, arch in enumerate(archs):
            store.put_model(arch, Measurement.from_samples([3 + j / 10, 3.1 + j / 10], 1))
    key = sorted(specs)[0]
    conn = sqlite3.connect(path)  # one stored median changed behind the store's back
    conn.execute("UPDATE layers SET median_ms = median_ms * 16 WHERE key = ?", (key,))
    conn.commit()
    conn.close()
    with caplog.at_level(logging.WARNING):
        result = fit_predictor(path)
    stored = _truth(path)[key][0]
    assert result.lut_rows.get(key) != pytest.approx(stored)
    assert key in caplog.text and "left out" in caplog.text


def _corrupt(data: bytes, kind: str, rng: random.Random) -> bytes:
    out = bytearray(data)
    if kind == "flip":
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del out[rng.randrange(1, len(out)) :]
    elif kind == "zero":
        at = rng.randrange(len(out))
        out[at : at + 64] = bytes(len(out[at : at + 64]))
    else:
        out += bytes(rng.randrange(256) for _ in range(32))
    return bytes(out)


def test_silent_damaged_cached_exports_are_exported_again_not_timed(tmp_path, caplog):
    from lut.modules import build_layer
    from profiler.base import get_backend
    from profiler.export import onnx_path

    cache = tmp_path / "onnx"
    specs = get_space("mnasnet").unique_layers(32)[:3]
    workloads = [Workload(s.key, lambda s=s: build_layer(s), s.input_shape) for s in specs]
    rng = random.Random(25)
    reused = 0
    caplog.set_level(logging.WARNING)
    for i in range(30):  # 30 corrupted entries
        workload = workloads[i % 3]
        path = onnx_path(workload, cache)
        bad = _corrupt(path.read_bytes(), ("flip", "truncate", "zero", "append")[i % 4], rng)
        path.write_bytes(bad)
        again = onnx_path(workload, cache)
        reused += again.read_bytes() == bad
    assert reused == 0, f"{reused} of 30 damaged cache entries were used as they were"
    assert "does not match" in caplog.text
    # and a damaged entry the runtime cannot load does not fail every run after it
    path = onnx_path(workloads[0], cache)
    path.write_bytes(path.read_bytes()[:100])
    with get_backend("onnxruntime", threads=1, cache_dir=cache) as backend:
        m = backend.measure(workloads[0], warmup=0, runs=1)
    assert m.median_ms > 0


# --- messages and litter ----------------------------------------------------------------------


def test_message_a_bad_byte_in_stored_text_is_not_called_a_write_error(tmp_path):
    path = _lut(tmp_path / "a.lut", models=0)
    page = sorted(set(_leaf_pages(path).values()))[0]
    data = bytearray(path.read_bytes())
    at = data.find(b"skiprelu", (page - 1) * PAGE, page * PAGE) + 4  # a row's act column
    data[at] = 0xFF  # invalid UTF-8 in text no index holds: integrity_check passes
    path.write_bytes(bytes(data))
    r = subprocess.run(_lutnas("lut", "show", str(path)), capture_output=True, text=True)
    said = r.stdout + r.stderr
    assert "cannot write" not in said and "Traceback" not in said, said
    assert "damaged" in said, said


@NEEDS_MOUNTS
def test_message_a_new_lut_on_read_only_storage_is_not_told_to_wait(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    r = _on_read_only(data, _lutnas("lut", "merge", str(_lut(tmp_path / "a.lut", 3, 0)),
                                    "--out", str(data / "new.lut")))  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "wait for it to finish" not in r.stderr
    assert "not writable" in r.stderr or "read-only" in r.stderr, r.stderr


def test_message_out_dev_null_is_not_told_to_create_it(tmp_path, capsys):
    lut = _lut(tmp_path / "a.lut", layers=3, models=0)
    lock = Path("/dev/null.lock")
    existed = lock.exists()
    assert main(["lut", "merge", str(lut), "--out", "/dev/null"]) == 2
    err = capsys.readouterr().err
    assert "create one with" not in err and "/dev/null" in err, err
    assert "not a LUT file" in err or "not a file" in err, err
    assert lock.exists() == existed  # no lock file made in /dev


FILL_DISK = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    full = Path(sys.argv[1])
    fd = os.open(full / "filler", os.O_WRONLY | os.O_CREAT)
    try:  # the disk fills up ...
        while True:
            os.write(fd, b"x" * 4096)
    except OSError:
        pass
    os.ftruncate(fd, os.fstat(fd).st_size - int(os.environ["LEAVE_KB"]) * 1024)  # ... all but
    os.close(fd)
    """
)
FULL_DISK = FILL_DISK + textwrap.dedent(
    """
    from lutnas.cli.main import main
    sys.exit(main(sys.argv[2:]))
    """
)


def _tmpfs_works() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.mark.skipif(not _tmpfs_works(), reason="needs root and mount namespaces (tmpfs)")
def test_message_a_full_disk_names_the_file_it_could_not_write(tmp_path):
    src = _lut(tmp_path / "a.lut")
    out = tmp_path / "full" / "merged.lut"
    r = _on_full_disk(
        tmp_path / "full", FULL_DISK, ["lut", "merge", str(src), "--out", str(out)], 96
    )
    assert r.returncode == 2, r.stderr
    assert str(out) in r.stderr and "full" in r.stderr, r.stderr


EXPORT_ON_FULL_DISK = FILL_DISK + textwrap.dedent(
    """
    from lut.modules import build_layer
    from lutnas.errors import LutnasError
    from lutnas.spaces.space import get_space
    from profiler.base import BackendError, Workload
    from profiler.export import onnx_path
    spec = get_space("mnasnet").unique_layers(224)[0]
    try:
        onnx_path(Workload(spec.key, lambda: build_layer(spec), spec.input_shape), full / "c")
    except BackendError as exc:
        print("layer failure:", exc)
    except LutnasError as exc:
        print("stopped:", exc)
    """
)


@pytest.mark.skipif(not _tmpfs_works(), reason="needs root and mount namespaces (tmpfs)")
def test_message_a_full_export_cache_stops_the_run_naming_the_cache(tmp_path):
    d = tmp_path / "full"
    r = _on_full_disk(d, EXPORT_ON_FULL_DISK, [], 4)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("stopped:") and f"{d}/c" in r.stdout, r.stdout


def _on_full_disk(directory: Path, code: str, args: list[str], leave_kb: int):
    """Run ``code`` with ``directory`` on a 256 KB file system it fills up to ``leave_kb``."""
    directory.mkdir()
    script = f'mount -t tmpfs -o size=256k tmpfs {directory} && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", sys.executable, "-c", code, str(directory),
         *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LEAVE_KB": str(leave_kb)},
    )  # fmt: skip


BLOCKED_CREATE = textwrap.dedent(
    """
    import os, sys, time
    import lut.store_util as util
    def stuck(src, dst):
        print("made", flush=True)
        time.sleep(600)
    util.os.link = stuck  # killed after the temporary file is complete, before it is linked
    from lut.store import LutStore
    LutStore.create_or_resume(sys.argv[1], {config!r}, {{}}, {settings!r})
    """
).format(config=CONFIG, settings=SETTINGS)

BLOCKED_EXPORT = textwrap.dedent(
    """
    import sys, time
    import profiler.export as export
    from lut.modules import build_layer
    from lutnas.spaces.space import get_space
    from profiler.base import Workload
    write = export._write_onnx
    def stuck(module, shape, path):
        write(module, shape, path)
        print("made", flush=True)
        time.sleep(600)
    export._write_onnx = stuck
    spec = get_space("mnasnet").unique_layers(32)[0]
    export.onnx_path(Workload(spec.key, lambda: build_layer(spec), spec.input_shape), sys.argv[1])
    """
)


def _killed_while(code: str, arg: Path) -> None:
    p = subprocess.Popen([sys.executable, "-c", code, str(arg)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "made"
    finally:
        p.kill()
        p.wait(timeout=30)


def test_message_temporary_files_of_killed_writers_are_swept(tmp_path):
    from lut.modules import build_layer
    from profiler.export import onnx_path

    path = tmp_path / "a.lut"
    _killed_while(BLOCKED_CREATE, path)
    cache = tmp_path / "onnx"
    _killed_while(BLOCKED_EXPORT, cache)
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".a.lut.")]
    assert [p for p in cache.iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name]

    LutStore.create_or_resume(path, CONFIG, {}, SETTINGS).close()
    spec = get_space("mnasnet").unique_layers(32)[1]
    onnx_path(Workload(spec.key, lambda: build_layer(spec), spec.input_shape), cache)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".a.lut.")]
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name]


def test_message_lock_files_are_removed_and_ignored_by_git(tmp_path):
    path = _lut(tmp_path / "a.lut", layers=3, models=0)
    with LutStore.edit(path) as store:
        store.remove_layers([])
    assert not Path(f"{path}.lock").exists()
    holder = subprocess.Popen(  # a writer killed while holding the lock
        [sys.executable, "-c", BLOCKED_CREATE, str(tmp_path / "b.lut")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "made"
    holder.kill()
    holder.wait(timeout=30)
    LutStore.create_or_resume(tmp_path / "b.lut", CONFIG, {}, SETTINGS).close()
    assert not Path(f"{tmp_path / 'b.lut'}.lock").exists()
    if shutil.which("git") and (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", "profiles/host.lut.lock"], cwd=ROOT)
        assert ignored.returncode == 0, ".gitignore does not cover LUT lock files"
