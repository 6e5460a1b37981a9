"""A predictor directory that is damaged, mixed up or cannot be written gives one clear error
naming the field or file and the ``lutnas fit`` command; a failed save leaves nothing behind and
an existing predictor intact; ``lutnas fit`` checks its --out before fitting (issue 13)."""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path

import pytest
from predictor_fixtures import read_meta, replace_file, stored_file, write_meta

import predictor.api
from lutnas import atomicfile as predictor_dir_atomic
from lutnas.cli.main import main
from lutnas.errors import LutnasError
from predictor import LatencyPredictor, persistence, predictor_dir


@pytest.fixture
def copy(predictor_path, tmp_path):
    """A private copy of the session's small predictor and its metadata, to damage."""
    path = Path(shutil.copytree(predictor_path, tmp_path / "p.predictor"))
    return path, read_meta(path)


def _write_meta(path: Path, meta: dict) -> None:
    write_meta(path, meta)


def _refit(meta: dict, path: Path) -> str:
    return re.escape(f"lutnas fit --lut {meta['lut']['path']} --out {path}")


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("version", ["1", None, 1.5, True])
def test_a_schema_version_that_is_not_a_whole_number_is_named(copy, version):
    path, meta = copy
    _write_meta(path, {**meta, "schema_version": version})
    with pytest.raises(
        LutnasError, match=f"schema_version must be a whole number.*{_refit(meta, path)}"
    ):
        LatencyPredictor.load(path)


@pytest.mark.parametrize("rng", [["a", "b"], [1.0], "1-2", [5.0, 1.0], None])
def test_a_broken_latency_range_is_named_not_ignored(copy, rng):
    path, meta = copy
    meta["training"]["latency_range_ms"] = rng
    _write_meta(path, meta)
    with pytest.raises(
        LutnasError, match=f"training.latency_range_ms must be.*{_refit(meta, path)}"
    ):
        LatencyPredictor.load(path)


def test_a_missing_model_file_is_named(copy, capsys):
    path, meta = copy
    stored_file(path, "point.ubj").unlink()
    with pytest.raises(LutnasError, match=f"point.* .*is missing.*{_refit(meta, path)}"):
        LatencyPredictor.load(path)
    del meta["files"]["point.ubj"]  # removed from the record too
    _write_meta(path, meta)
    with pytest.raises(LutnasError, match=f"files does not list point.ubj.*{_refit(meta, path)}"):
        LatencyPredictor.load(path)
    assert main(["predict", "--predictor", str(path), "--arch", "mobilenetv2-1.0"]) == 2
    assert "files does not list point.ubj" in _one_error_line(capsys)


def test_a_damaged_model_whose_hash_was_updated_is_named(copy):
    path, meta = copy
    data = stored_file(path, "quantiles.ubj").read_bytes()[:200]  # cut short, hash anew
    replace_file(path, "quantiles.ubj", data)
    with pytest.raises(
        LutnasError, match=f"quantiles.ubj is not a readable XGBoost model.*{_refit(meta, path)}"
    ):
        LatencyPredictor.load(path)


def test_a_lut_file_given_as_the_predictor_gets_the_fit_command(predictor_path, capsys):
    lut = predictor_path.parent / "small.lut"
    assert main(["predict", "--predictor", str(lut), "--arch", "mobilenetv2-1.0"]) == 2
    assert _one_error_line(capsys) == (
        f"error: {lut} is a LUT file, not a predictor directory; make one with: "
        f"lutnas fit --lut {lut} --out {lut.with_suffix('.predictor')}"
    )


def _fail_writes(monkeypatch, after: int = 1) -> None:
    """Writes fail with a full disk after ``after`` files were written (the only seam: a real
    full disk is tested in test_adversarial_predictor.py)."""
    real, done = predictor_dir.os.fsync, []

    def fsync(fd):
        if len(done) >= after:
            raise OSError(errno.ENOSPC, "No space left on device")
        done.append(fd)
        return real(fd)

    monkeypatch.setattr(predictor_dir.os, "fsync", fsync)


def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_a_full_disk_while_saving_leaves_no_temporary_files(predictor_path, tmp_path, monkeypatch):
    predictor = LatencyPredictor.load(predictor_path)
    _fail_writes(monkeypatch)
    with pytest.raises(OSError) as info:
        predictor.save(tmp_path / "new.predictor")
    assert info.value.errno == errno.ENOSPC
    assert [p.name for p in tmp_path.iterdir()] == []  # the lock file is removed on release


def test_a_full_disk_while_replacing_keeps_the_old_predictor(copy, monkeypatch):
    path, _ = copy
    before = _snapshot(path)
    predictor = LatencyPredictor.load(path)
    predictor.meta = {**predictor.meta, "created_at": "another"}  # a new version to write
    predictor.lut_rows["conv_extra"] = 1.0  # so a new lut_rows file is written first
    _fail_writes(monkeypatch, after=1)
    with pytest.raises(OSError) as info:
        predictor.save(path)
    monkeypatch.undo()
    assert info.value.filename.startswith(str(path))  # the file that failed, not a temporary
    assert not [p for p in path.parent.iterdir() if p.name.endswith((".tmp", ".old"))]
    assert read_meta(path) == read_meta_of(before)
    assert LatencyPredictor.load(path).meta["created_at"] != "another"


def read_meta_of(snapshot: dict[str, bytes]) -> dict:
    import json

    return json.loads(snapshot["meta.json"])


def test_a_failed_record_rename_leaves_the_old_predictor(copy, monkeypatch):
    path, _ = copy
    before = _snapshot(path)
    predictor = LatencyPredictor.load(path)
    predictor.meta = {**predictor.meta, "created_at": "another"}
    real = predictor_dir_atomic.os.replace

    def replace(src, dst):
        if Path(dst).name == "meta.json":
            raise OSError(errno.EACCES, "Permission denied")
        return real(src, dst)

    monkeypatch.setattr(predictor_dir_atomic.os, "replace", replace)
    with pytest.raises(OSError):
        predictor.save(path)
    monkeypatch.undo()
    assert (path / "meta.json").read_bytes() == before["meta.json"]
    assert LatencyPredictor.load(path).meta["created_at"] != "another"
    predictor.save(path)  # the next write removes the unfinished version's files
    assert LatencyPredictor.load(path).meta["created_at"] == "another"
    assert len(list(path.iterdir())) == len(before)


@pytest.fixture
def no_fit(monkeypatch):
    def fit(*args, **kwargs):
        raise AssertionError("fit was called before --out was checked")

    monkeypatch.setattr(predictor.api.LatencyPredictor, "fit", fit)


def _parent_is_a_file(d: Path) -> Path:
    (d / "file").write_text("x")
    return d / "file" / "p.predictor"


def _out_is_a_file(d: Path) -> Path:
    (d / "p.predictor").write_text("x")
    return d / "p.predictor"


def _out_is_another_directory(d: Path) -> Path:
    (d / "p").mkdir()
    (d / "p" / "notes.txt").write_text("mine")
    return d / "p"


@pytest.mark.parametrize(
    "make_out, message",
    [
        (_parent_is_a_file, "cannot write the predictor"),
        (_out_is_a_file, "exists and is not a predictor directory"),
        (_out_is_another_directory, "exists and is not a predictor directory"),
    ],
    ids=["parent-is-a-file", "out-is-a-file", "out-is-another-directory"],
)
def test_fit_checks_its_out_before_fitting(tmp_path, capsys, no_fit, make_out, message):
    out = make_out(tmp_path)
    assert main(["fit", "--lut", str(tmp_path / "any.lut"), "--out", str(out)]) == 2
    line = _one_error_line(capsys)
    assert message in line and str(out) in line and "--out" in line
    assert not list(tmp_path.glob("**/.*.tmp"))


def test_fit_out_check_creates_the_directory_and_accepts_a_predictor(copy, tmp_path):
    path, _ = copy
    assert persistence.check_out(path) == path  # an existing predictor may be replaced
    new = tmp_path / "a" / "b" / "p.predictor"
    assert persistence.check_out(new) == new and new.parent.is_dir() and not new.exists()
    assert not list(tmp_path.glob("**/.*.tmp"))
