"""The predictor half of the adversarial run of 2026-12-02 (issue 25), kept as tests: every
probe here failed on that day's code (main at 01d9c52) and passes now.

Probes (issue 25's wording; L = lost or unrecoverable, S = silently wrong, T = traceback):

- L1 ``lutnas fit`` killed between the two renames that swap in a new predictor left no
  predictor at ``--out``: :func:`test_a_writer_killed_at_any_rename_leaves_a_whole_predictor`
  (a real kill -9 at each rename in turn), and the copies an older lutnas left are named with
  the command that puts one back: :func:`test_copies_left_by_an_older_lutnas_are_named`.
- L2 two writers racing hit ``OSError [Errno 39] Directory not empty``:
  :func:`test_a_second_writer_during_a_swap_waits_and_both_succeed` and, with real processes,
  :func:`test_writers_and_readers_in_parallel_processes_never_fail`.
- L3 readers during a swap failed:
  :func:`test_a_reader_at_any_rename_of_a_writer_sees_a_whole_predictor`,
  :func:`test_a_reader_whose_predictor_is_replaced_while_it_reads_gets_the_new_one`.
- S1-S4 ``meta.json`` outside the hashes (coefficients ×10), NaN coefficients, ``conformal_q =
  -1e9``, NaN rows in ``lut_rows.json`` with the hash updated:
  :func:`test_an_edited_record_is_refused`, :func:`test_a_value_out_of_range_is_refused`,
  :func:`test_nan_rows_in_the_lut_snapshot_are_refused`.
- T11 malformed ``meta.json`` values gave tracebacks: :func:`test_malformed_values_are_error_lines`.

Edits are made as a version of lutnas that wrote those values would have left the files: the
record resealed (:func:`predictor.meta_schema.seal`) where the point is the range check, not
the seal. The helpers fall back to the layout of 01d9c52 so the module runs against it too.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from mount_namespace import run_on_small_disk, tmpfs_works

from lutnas.cli.main import main
from lutnas.errors import LutnasError
from lutnas.spaces.named import get_named_arch
from predictor import LatencyPredictor, meta_schema

ROOT = Path(__file__).resolve().parents[1]
ARCH = get_named_arch("mobilenetv2-1.0")


# --- helpers -----------------------------------------------------------------------------------


def _read_meta(path: Path) -> dict:
    return json.loads((path / "meta.json").read_text())


def _write_meta(path: Path, meta: dict, *, reseal: bool = True) -> None:
    seal = getattr(meta_schema, "seal", None)
    (path / "meta.json").write_text(json.dumps(seal(meta) if seal and reseal else meta))


def _stored(path: Path, name: str, meta: dict) -> Path:
    stored_name = getattr(meta_schema, "stored_name", None)
    if stored_name is None:
        return path / name
    return path / stored_name(name, meta["files"][name], meta["schema_version"])


def _copy(predictor_path: Path, where: Path) -> Path:
    return Path(shutil.copytree(predictor_path, where))


def _new_version(predictor_path: Path) -> LatencyPredictor:
    """The session predictor with one more LUT row: another version of it to save."""
    p = LatencyPredictor.load(predictor_path)
    p.sums.add_rows({"conv_k1_e1_se0_noskip_relu_i3_o8_s1_in8x8": 0.25})
    return p


def _version(path: Path) -> str:
    """``old`` or ``new`` (see :func:`_new_version`) for the predictor at ``path``."""
    rows = LatencyPredictor.load(path).lut_rows
    return "new" if "conv_k1_e1_se0_noskip_relu_i3_o8_s1_in8x8" in rows else "old"


def _sane(p: LatencyPredictor) -> None:
    d = p.predict_detail(ARCH)
    values = (d.latency_ms, d.low_ms, d.high_ms)
    assert all(math.isfinite(v) and v > 0 for v in values), values
    assert d.low_ms < d.latency_ms < d.high_ms, values  # the interval is not collapsed
    repr(p), p.profile_command(), p.latency_range_ms, p.fingerprint


# --- L1: a writer killed anywhere ----------------------------------------------------------------

KILL_AT_RENAME = textwrap.dedent(
    """
    import os, sys
    from predictor import LatencyPredictor, persistence

    source, target = sys.argv[1], sys.argv[2]
    p = LatencyPredictor.load(source)
    p.sums.add_rows({"conv_k1_e1_se0_noskip_relu_i3_o8_s1_in8x8": 0.25})
    captured = {}
    real_write_dir = persistence.write_dir
    persistence.write_dir = lambda path, meta, files: captured.update(meta=meta, files=files)
    p.save(target)  # the new version's record and files, captured before any fork
    persistence.write_dir = real_write_dir
    for k in range(1, 40):
        pid = os.fork()
        if pid == 0:  # the writer, killed (os._exit: no clean-up) at its k-th rename
            calls = [0]
            def hook(real):
                def renamed(*args, **kwargs):
                    calls[0] += 1
                    if calls[0] == k:
                        os._exit(9)
                    return real(*args, **kwargs)
                return renamed
            os.replace, os.rename = hook(os.replace), hook(os.rename)
            real_write_dir(target, captured["meta"], captured["files"])
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        try:
            rows = LatencyPredictor.load(target).lut_rows
            seen = "new" if "conv_k1_e1_se0_noskip_relu_i3_o8_s1_in8x8" in rows else "old"
        except Exception as exc:
            seen = "error: " + str(exc).replace(chr(10), " ")
        print(k, os.waitstatus_to_exitcode(status), seen, flush=True)
        if os.waitstatus_to_exitcode(status) == 0:
            break
    """
)


def test_a_writer_killed_at_any_rename_leaves_a_whole_predictor(predictor_path, tmp_path):
    target = _copy(predictor_path, tmp_path / "p.predictor")
    run = subprocess.run(
        [sys.executable, "-c", KILL_AT_RENAME, str(predictor_path), str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line.split(" ", 2) for line in run.stdout.splitlines()]
    assert lines and lines[-1][1] == "0", run.stdout  # the last writer finished
    for k, _code, seen in lines:
        assert seen in ("old", "new"), f"killed at rename {k}: {seen}"
    assert lines[-1][2] == "new"
    assert _version(target) == "new"
    # what the killed writers left over is gone after the next write
    _new_version(predictor_path).save(target)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "p.predictor"]
    assert leftovers == [], leftovers  # a killed writer's lock file too: the next one removes it
    assert len(list(target.iterdir())) == len(_read_meta(target)["files"]) + 1


def test_copies_left_by_an_older_lutnas_are_named(predictor_path, tmp_path, capsys):
    # lutnas before 2026-12-02 renamed the old directory aside, then the new one into place; a
    # kill between the two left both hidden beside --out and nothing at it
    path = tmp_path / "p.predictor"
    dead = _dead_pid()
    shutil.copytree(predictor_path, tmp_path / f".p.predictor.{dead}.old")
    assert main(["predict", "--predictor", str(path), "--arch", "mobilenetv2-1.0"]) == 2
    err = capsys.readouterr().err
    assert f".p.predictor.{dead}.old" in err
    assert f"mv {tmp_path}/.p.predictor.{dead}.old {path}" in err
    _new_version(predictor_path).save(path)  # a new predictor there: the copy is removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.predictor"]


def _dead_pid() -> int:
    for pid in range(4_000_000, 3_000_000, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("no free pid")


# --- L2, L3: writers and readers at the same time -----------------------------------------------


def test_a_reader_at_any_rename_of_a_writer_sees_a_whole_predictor(
    predictor_path, tmp_path, monkeypatch
):
    target = _copy(predictor_path, tmp_path / "p.predictor")
    new, seen, real = _new_version(predictor_path), [], os.replace
    real_rename = os.rename

    def read_then(real_call):
        def renamed(*args, **kwargs):
            try:
                seen.append(_version(target))
            except LutnasError as exc:
                seen.append(f"error: {exc}")
            return real_call(*args, **kwargs)

        return renamed

    monkeypatch.setattr(os, "replace", read_then(real))
    monkeypatch.setattr(os, "rename", read_then(real_rename))
    new.save(target)
    monkeypatch.undo()
    assert seen and all(s in ("old", "new") for s in seen), seen
    assert _version(target) == "new"


def test_a_reader_whose_predictor_is_replaced_while_it_reads_gets_the_new_one(
    predictor_path, tmp_path, monkeypatch
):
    target = _copy(predictor_path, tmp_path / "p.predictor")
    new, done = _new_version(predictor_path), []
    real_bytes, real_text = Path.read_bytes, Path.read_text

    def swap_after(real_call):
        def read(self, *args, **kwargs):
            data = real_call(self, *args, **kwargs)
            if self.name == "meta.json" and not done:  # the record is read: now a writer
                done.append(True)
                monkeypatch.setattr(Path, "read_bytes", real_bytes)
                monkeypatch.setattr(Path, "read_text", real_text)
                new.save(target)
            return data

        return read

    monkeypatch.setattr(Path, "read_bytes", swap_after(real_bytes))
    monkeypatch.setattr(Path, "read_text", swap_after(real_text))
    loaded = LatencyPredictor.load(target)
    assert done
    assert "conv_k1_e1_se0_noskip_relu_i3_o8_s1_in8x8" in loaded.lut_rows  # whole and new
    _sane(loaded)


def test_a_second_writer_during_a_swap_waits_and_both_succeed(
    predictor_path, tmp_path, monkeypatch
):
    target = _copy(predictor_path, tmp_path / "p.predictor")
    first, second = LatencyPredictor.load(predictor_path), _new_version(predictor_path)
    first.meta = {**first.meta, "created_at": "first"}
    errors: list[BaseException] = []
    waiting = threading.Event()
    thread: list[threading.Thread] = []

    def second_writer() -> None:
        try:
            second.save(target)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    real, real_rename = os.replace, os.rename

    def start_second(real_call):
        def renamed(*args, **kwargs):
            if not thread:  # at the first writer's first rename, the second one starts
                thread.append(threading.Thread(target=second_writer))
                thread[0].start()
                for _ in range(400):  # until it has written or waits for the first
                    if not thread[0].is_alive() or waiting.is_set():
                        break
                    thread[0].join(0.05)
            return real_call(*args, **kwargs)

        return renamed

    import time as time_module

    real_sleep = time_module.sleep

    def sleep(seconds):
        if threading.current_thread() is not threading.main_thread():
            waiting.set()  # the second writer waits for the lock
        real_sleep(seconds)

    monkeypatch.setattr(time_module, "sleep", sleep)
    monkeypatch.setattr(os, "replace", start_second(real))
    monkeypatch.setattr(os, "rename", start_second(real_rename))
    first.save(target)
    monkeypatch.setattr(os, "replace", real)
    monkeypatch.setattr(os, "rename", real_rename)
    thread[0].join(120)
    monkeypatch.undo()
    assert not errors, errors
    assert _version(target) == "new"  # the second writer's, written after the first's


RACE = textwrap.dedent(
    """
    import sys
    from predictor import LatencyPredictor
    source, target, role, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    p = LatencyPredictor.load(source)
    if role == "b":
        p.sums.add_rows({"conv_k1_e1_se0_noskip_relu_i3_o8_s1_in8x8": 0.25})
    failures = 0
    for _ in range(rounds):
        try:
            if role == "reader":
                LatencyPredictor.load(target).predict_many([])
            else:
                p.save(target)
        except Exception as exc:
            failures += 1
            print(role, type(exc).__name__, exc, file=sys.stderr)
    print(failures)
    """
)


@pytest.mark.slow
def test_writers_and_readers_in_parallel_processes_never_fail(predictor_path, tmp_path):
    target = _copy(predictor_path, tmp_path / "p.predictor")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(predictor_path), str(target), role, str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for role, rounds in (("a", 25), ("b", 25), ("reader", 120))
    ]
    results = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e[-1500:] for _, e in results]
    assert [out.strip() for out, _ in results] == ["0", "0", "0"], [e for _, e in results]
    assert _version(target) in ("old", "new")


# --- S1-S4, T11: the record and the snapshot, checked ---------------------------------------


def test_an_edited_record_is_refused(predictor_path, tmp_path):
    path = _copy(predictor_path, tmp_path / "p.predictor")
    meta = _read_meta(path)
    meta["base"]["coef"] = [10 * c for c in meta["base"]["coef"]]  # 62 ms instead of 6.2
    _write_meta(path, meta, reseal=False)  # an edit: the seal is the one lutnas wrote
    with pytest.raises(LutnasError, match="meta.json.*edited or damaged.*lutnas fit --lut"):
        LatencyPredictor.load(path)


@pytest.mark.parametrize(
    "field, value, named",
    [
        (("base", "coef", 0), float("nan"), "base.coef"),
        (("base", "coef", 2), 1e308, "base.coef"),
        (("interval", "conformal_q"), -1e9, "interval.conformal_q"),
        (("interval", "conformal_q"), float("nan"), "interval.conformal_q"),
        (("ood", "ranges", "lut_ms"), [5.0, 1.0], "ood.ranges.lut_ms"),
    ],
    ids=["nan-coef", "huge-coef", "collapsed-interval", "nan-widening", "inverted-range"],
)
def test_a_value_out_of_range_is_refused(predictor_path, tmp_path, field, value, named):
    path = _copy(predictor_path, tmp_path / "p.predictor")
    meta = _read_meta(path)
    _set(meta, field, value)
    _write_meta(path, meta)
    with pytest.raises(LutnasError, match=f"{named} must be .*lutnas fit --lut"):
        LatencyPredictor.load(path)


def test_nan_rows_in_the_lut_snapshot_are_refused(predictor_path, tmp_path):
    path = _copy(predictor_path, tmp_path / "p.predictor")
    meta = _read_meta(path)
    old = _stored(path, "lut_rows.json", meta)
    rows = json.loads(old.read_text())
    first = sorted(rows)[0]
    rows[first] = float("nan")
    data = json.dumps(rows).encode()
    old.unlink()
    meta["files"]["lut_rows.json"] = hashlib.sha256(data).hexdigest()  # the hash updated
    _stored(path, "lut_rows.json", meta).write_bytes(data)
    _write_meta(path, meta)
    with pytest.raises(LutnasError, match=f"lut_rows.json.*positive number of ms.*{first}"):
        LatencyPredictor.load(path)


def _set(meta: dict, field: tuple, value: object) -> None:
    record = meta
    for key in field[:-1]:
        record = record[key]
    record[field[-1]] = value


FIELDS = [
    ("base",),
    ("base", "coef"),
    ("base", "coef", 1),
    ("base", "terms", 0),
    ("interval",),
    ("interval", "conformal_q"),
    ("interval", "alphas"),
    ("ood", "ranges"),
    ("ood", "ranges", "lut_ms"),
    ("ood", "ranges", "lut_ms", 0),
    ("training", "cv"),
    ("training", "cv", "within_10"),
    ("training", "measurements"),
    ("training", "latency_range_ms", 1),
    ("lut", "path"),
    ("lut", "settings", "runs"),
    ("lut", "backend_config", "threads"),
    ("layer_estimator", "kinds"),
    ("features",),
    ("tool_version",),
]
VALUES = [None, "abc", float("nan"), -1e9, [], {}]


@pytest.mark.parametrize("field", FIELDS, ids=[".".join(map(str, f)) for f in FIELDS])
def test_malformed_values_are_error_lines(predictor_path, tmp_path, field, capsys):
    path = _copy(predictor_path, tmp_path / "p.predictor")
    meta = _read_meta(path)
    for value in VALUES:
        edited = json.loads(json.dumps(meta))
        _set(edited, field, value)
        _write_meta(path, edited)
        try:
            loaded = LatencyPredictor.load(path)
        except LutnasError:
            continue
        _sane(loaded)  # harmless where accepted
    assert main(["predict", "--predictor", str(path), "--arch", "mobilenetv2-1.0"]) in (0, 2)
    err = capsys.readouterr().err
    assert "Traceback" not in err


# --- a real full disk -------------------------------------------------------------------------


FULL_DISK = textwrap.dedent(
    """
    import errno, json, os, shutil, sys
    from pathlib import Path
    from predictor import LatencyPredictor
    source, disk = sys.argv[1], Path(sys.argv[2])
    target = disk / "p.predictor"
    shutil.copytree(source, target)
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)  # fill the disk but for 20 kB
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError:
        os.close(fd)
    os.truncate(disk / "filler", os.path.getsize(disk / "filler") - 20_000)
    new = LatencyPredictor.load(source)
    new.sums.add_rows({"conv_k1_e1_se0_noskip_relu_i3_o8_s1_in8x8": 0.25})
    new.meta = {**new.meta, "created_at": "x" * 30_000}  # a record too big for what is left
    try:
        new.save(target)
        print("saved")
    except OSError as exc:
        print("errno", exc.errno, exc.filename)
    print("rows", len(LatencyPredictor.load(target).lut_rows))
    print("files", sorted(p.name for p in disk.iterdir()))
    """
)


@pytest.mark.skipif(not tmpfs_works(), reason="needs root and mount namespaces")
def test_a_full_disk_while_replacing_keeps_the_old_predictor_whole(predictor_path, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    size = sum(f.stat().st_size for f in predictor_path.iterdir()) * 2 + 200_000
    run = run_on_small_disk(disk, size, FULL_DISK, str(predictor_path), str(disk))
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0].startswith("errno 28 ") and str(disk / "p.predictor") in lines[0], lines
    rows = len(LatencyPredictor.load(predictor_path).lut_rows)
    assert lines[1] == f"rows {rows}"  # the old predictor, whole
    assert lines[2] == "files ['filler', 'p.predictor']", lines
