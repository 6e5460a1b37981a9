"""``profile-device`` and ``lutnas lut`` end to end on the host: real processes, real files."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest
from export_cache_checks import half_written

from lut.store import LutStore
from lutnas.cli.profile import main as profile_main
from lutnas.spaces.arch import Arch
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.space import get_space

FAST = ["--runs", "5", "--warmup", "1", "--reference-every", "0", "--no-progress"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))


def cli(*args, timeout=300):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lutnas.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def rows(path):
    con = sqlite3.connect(path)
    try:
        return {
            k: (med, at)
            for k, med, at in con.execute("SELECT key, median_ms, measured_at FROM layers")
        }
    finally:
        con.close()


def test_dry_run_prints_unique_layers_per_resolution(capsys):
    assert profile_main(["--dry-run", "--resolution", "160", "--resolution", "224"]) == 0
    out = capsys.readouterr().out
    n = len(get_space("mnasnet").unique_layers(224))
    assert f"resolution 160: {n} unique layers" in out
    assert f"resolution 224: {n} unique layers" in out
    space = get_space("mnasnet")
    both = {s.key for r in (160, 224) for s in space.unique_layers(r)}
    assert len(both) < 2 * n  # the classifier is the same layer at every resolution
    assert f"total: {len(both)} unique layers" in out  # what a full LUT of both will hold


@pytest.mark.slow
def test_profile_an_arch_then_show_and_export(tmp_path, capsys):
    out = tmp_path / "host.lut"
    assert (
        profile_main(
            [
                "--arch",
                "mnasnet-a1",
                "--out",
                str(out),
                "--whole-models",
                "1",
                "--runs",
                "5",
                "--warmup",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    wanted = {s.key for s in get_named_arch("mnasnet-a1").layers()}
    with LutStore.open(out) as store:
        # A1's layers, and those of the whole model, which are profiled first
        (model_json,) = store.models_frame()["arch_json"]
        wanted |= {s.key for s in Arch.from_json(model_json).layers()}
        assert store.layer_keys() == wanted
        assert len(store.reference_frame()) >= 1  # the reference layer was timed
        assert store.backend_config["backend"] == "onnxruntime"
        assert store.backend_config["threads"] == 1
    shown = cli("lut", "show", str(out))
    assert shown.returncode == 0, shown.stderr
    assert f"layers: {len(wanted)}; whole models: 1" in shown.stdout
    assert "noisiest" in shown.stdout and "coverage of mnasnet @224" in shown.stdout
    exported = cli("lut", "export", str(out), "--csv", str(tmp_path / "t.csv"))
    assert (
        exported.returncode == 0 and (tmp_path / "t.csv").read_text().count("\n") == len(wanted) + 1
    )


def test_limit_takes_a_seeded_subset_and_resume_skips_done(tmp_path, capsys):
    out = str(tmp_path / "a.lut")
    assert profile_main(["--limit", "4", "--out", out, *FAST]) == 0
    first = rows(out)
    assert len(first) == 4
    assert profile_main(["--limit", "6", "--out", out, *FAST]) == 0
    second = rows(out)
    assert len(second) == 6 and all(second[k] == v for k, v in first.items())
    assert "4 already in the file" in capsys.readouterr().out


@pytest.mark.slow
def test_killed_run_resumes_without_loss_or_duplicates(tmp_path):
    out = tmp_path / "kill.lut"
    args = [sys.executable, "-m", "lutnas.cli.profile", "--limit", "40", "--out", str(out), *FAST]
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy()
    )
    deadline = time.monotonic() + 240
    workers: set[int] = set()
    try:
        while time.monotonic() < deadline:
            workers |= _spawned_children(proc.pid)
            if out.exists():
                try:
                    if len(rows(out)) >= 8:
                        break
                except sqlite3.OperationalError:
                    pass
            if proc.poll() is not None:
                pytest.fail("profile-device finished before it could be killed; raise --limit")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # no cleanup handlers run: a real crash
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    if len(os.sched_getaffinity(0)) > 1:
        assert workers  # the exporter pool was running
    gone_by = time.monotonic() + 30  # the workers notice their parent is gone and end
    while time.monotonic() < gone_by and any(_running(p) for p in workers):
        time.sleep(0.2)
    assert not [p for p in workers if _running(p)]
    before = rows(out)
    assert 8 <= len(before) < 40
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(before)} already in the file" in done.stdout
    after = rows(out)
    assert len(after) == 40
    assert all(after[k] == v for k, v in before.items())  # nothing re-measured or lost
    con = sqlite3.connect(out)
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM layers").fetchone() == (40, 40)


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    out = tmp_path / "int.lut"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lutnas.cli.profile", "--limit", "200", "--out", str(out), *FAST],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    workers: set[int] = set()  # the exporter pool's processes (none on a one-core machine)
    while time.monotonic() < deadline and not (out.exists() and _count(out) >= 3):
        workers |= _spawned_children(proc.pid)
        time.sleep(0.05)
    workers |= _spawned_children(proc.pid)
    proc.send_signal(signal.SIGINT)  # while the pool is exporting the next layers
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "run the same command again to resume" in err
    assert _count(out) >= 3
    if len(os.sched_getaffinity(0)) > 1:
        assert workers  # there was a pool to interrupt
    assert not [pid for pid in workers if _running(pid)]  # and it is gone
    cache = tmp_path / "cache" / "onnx"
    assert not half_written(cache)  # no file half-written under any name
    for path in cache.glob("*.onnx"):
        onnx.checker.check_model(onnx.load(path))


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _spawned_children(pid: int) -> set[int]:
    """Processes ``pid`` started with multiprocessing's spawn (its exporter workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            spawned = b"spawn_main" in (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and spawned:
            found.add(int(entry.name))
    return found


def _count(path):
    try:
        return len(rows(path))
    except sqlite3.OperationalError:
        return 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["--space", "darts"], "unknown search space 'darts'"),
        (["--resolution", "100"], "resolution 100 is not usable"),
        (["--backend", "tpu"], "unknown backend 'tpu'"),
        (["--arch", "resnet"], "unknown architecture 'resnet'"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, capsys, args, message):
    assert profile_main(["--out", str(tmp_path / "x.lut"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ")


@pytest.mark.slow  # four CLI runs in subprocesses
def test_corrupt_lut_and_other_backend_are_refused(tmp_path):
    junk = tmp_path / "junk.lut"
    junk.write_text("not a database\n" * 100)
    result = cli("profile-device", "--out", str(junk), "--limit", "1", *FAST)
    assert result.returncode == 2 and "not a lutnas LUT" in result.stderr
    result = cli("lut", "show", str(junk))
    assert result.returncode == 2 and "not a lutnas LUT" in result.stderr

    out = tmp_path / "ort.lut"
    assert cli("profile-device", "--out", str(out), "--limit", "2", *FAST).returncode == 0
    result = cli("profile-device", "--backend", "torch", "--out", str(out), "--limit", "2", *FAST)
    assert result.returncode == 2
    assert (
        "another backend configuration" in result.stderr
        and "backend: file has 'onnxruntime'" in result.stderr
    )
    assert len(rows(out)) == 2  # nothing was mixed in
