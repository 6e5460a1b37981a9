"""Phone batching: several layers per push and shell, each row kept as soon as its run ends.

The protocol's reader on text (:class:`profiler.adb.batch.BatchOutput`: markers apart from
whatever a runner prints, fed in any pieces), and batches end to end on the emulated phone
through the real adb server (marker ``adb``): rows like one layer per shell, a connection lost
mid-batch, one runner failing in a batch, runners printing marker-shaped lines. No assertion
depends on how fast anything ran.
"""

from __future__ import annotations

import dataclasses
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_adb_backend import SETTINGS, SPECS
from test_adb_conditions import GUARD_S, cli, gone, rows, start

from lut.store import LutStore
from profiler.adb.batch import BatchEntry, BatchOutput, batch_script
from profiler.backends.adb import AdbBackend
from profiler.base import DeviceLostError
from profiler.loop import layer_workload, profile_layers

TOKEN = "5eed5eed5eed5eed"


def stream(*calls: tuple[str, int, str], token: str = TOKEN, end: bool = True) -> bytes:
    """What a batch's shell prints for ``(output, status, result file text)`` calls."""
    mark = f"@lutnas-batch {token}"
    text = ""
    for i, (output, status, result) in enumerate(calls):
        text += (
            f"\n{mark} begin {i}\n{output}\n{mark} exit {i} {status}\n{result}\n{mark} done {i}\n"
        )
    return (text + (f"\n{mark} end\n" if end else "")).encode()


def read_all(data: bytes, pieces: list[int]) -> tuple[BatchOutput, list]:
    reader, calls, at = BatchOutput(TOKEN), [], 0
    for size in pieces:
        calls += reader.feed(data[at : at + size])
        at += size
    return reader, calls + reader.feed(data[at:])


def test_each_call_is_read_apart_in_whatever_pieces_it_arrives():
    data = stream(("first\nä output", 0, "r1"), ("", 139, ""), ("third", 0, "a,b\nc,d"))
    cuts = random.Random(0)
    for pieces in ([], [1] * len(data), [cuts.randint(1, 9) for _ in range(len(data) // 3)]):
        reader, calls = read_all(data, pieces)
        assert [(c.index, c.returncode) for c in calls] == [(0, 0), (1, 139), (2, 0)]
        assert calls[0].output.strip() == "first\nä output" and calls[0].result_text.strip() == "r1"
        assert calls[2].result_text.strip() == "a,b\nc,d"
        assert reader.ended and reader.finished == 3 and reader.running is None


def test_a_cut_off_stream_hands_over_only_the_calls_it_finished():
    data = stream(("one", 0, ""), ("two", 0, ""), end=False)
    cut = data[: data.index(b"exit 1")]  # the second call's output came, its status did not
    reader, calls = read_all(cut, [])
    assert [c.index for c in calls] == [0] and reader.running == 1 and not reader.ended


def test_marker_shaped_lines_from_a_runner_are_its_output():
    fake = (
        "@lutnas-batch 0123456789abcdef exit 0 0\n"  # another batch's token
        f"@lutnas-batch {TOKEN}x done 0\n"  # a token that only starts like ours
        "@lutnas-batch end\n"
        f"text @lutnas-batch {TOKEN} done 0\n"  # ours, but not at the start of its line
        "a last line without its newline"
    )
    reader, calls = read_all(stream((fake, 0, ""), ("next", 0, "")), [7])
    assert [c.index for c in calls] == [0, 1]
    assert calls[0].output.strip() == fake and calls[1].output.strip() == "next"


def test_the_script_keeps_calls_apart_when_a_shell_runs_it(tmp_path):
    """The script as /bin/sh runs it (with a stand-in for taskset): statuses, outputs without a
    final newline, result files, and every model file removed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "taskset").write_text('#!/bin/sh\nshift\nexec "$@"\n')
    (bin_dir / "taskset").chmod(0o755)
    for name in ("a.model", "b.model", "c.model"):
        (tmp_path / name).write_text("x")
    entries = [
        BatchEntry(command="printf 'no newline'", model="a.model"),
        BatchEntry(command="sh -c 'echo to stderr >&2; exit 3'", model="b.model"),
        BatchEntry(command="echo 1,2 > result.csv", model="c.model", result_file="result.csv"),
    ]
    script = batch_script(str(tmp_path), "80", entries, TOKEN)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    out = subprocess.run(["/bin/sh", "-c", script], capture_output=True, env=env, timeout=30)
    reader, calls = read_all(out.stdout, [])
    assert [(c.returncode, c.output.strip()) for c in calls] == [
        (0, "no newline"),
        (3, "to stderr"),
        (0, ""),
    ]
    assert calls[2].result_text.strip() == "1,2" and reader.ended
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]  # models, pids, result: gone


# on the emulated phone ---------------------------------------------------------------------


@pytest.fixture
def perf_options(perf_test_runner, tmp_path_factory):
    return {"runner": perf_test_runner, "cache_dir": tmp_path_factory.getbasetemp() / "onnx-cache"}


@pytest.fixture
def bm_options(benchmark_model_runner, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "model-cache"
    return {"runner": benchmark_model_runner, "cache_dir": cache}


def profile(options, out, specs, batch: int, phone=None) -> tuple:
    with AdbBackend(batch_size=batch, **options) as backend:
        with backend.open_lut(out, SETTINGS.identity()) as store:
            report = profile_layers(backend, store, specs, SETTINGS, progress=False)
        left = phone.files() if phone is not None else None  # before the session's clean-up
    with LutStore.open(out) as store:
        return report, store.layers_frame().set_index("key").sort_index(), left


@pytest.mark.adb
@pytest.mark.parametrize("runner", ["onnxruntime_perf_test", "benchmark_model"])
def test_a_batch_gives_the_rows_one_layer_per_shell_gives(
    phone, perf_options, bm_options, tmp_path, runner
):
    options = perf_options if runner == "onnxruntime_perf_test" else bm_options
    flag = "perf_test -e" if runner == "onnxruntime_perf_test" else "--graph="
    _, alone, _ = profile(options, tmp_path / "alone.lut", SPECS[:4], 1)
    shells_before = len(phone.shell_commands)
    report, batched, left = profile(options, tmp_path / "batch.lut", SPECS[:4], 4, phone)
    assert report.measured == 4 and not report.failed
    assert list(batched.index) == list(alone.index)
    assert list(batched.columns) == list(alone.columns)
    assert (batched.isna() == alone.isna()).all().all()  # the same fields filled
    assert (batched["n"] == alone["n"]).all()
    assert (batched["median_ms"] > 0).all()
    batch_shells = [c for c in phone.shell_commands[shells_before:] if flag in c]
    assert len(batch_shells) == 1 and batch_shells[0].count(flag) == 4  # one shell for all
    assert [f.rsplit("/", 1)[1] for f in left] == [runner]  # pushed models removed at once


@pytest.mark.adb
def test_a_connection_lost_mid_batch_keeps_the_finished_rows_and_resume_times_the_rest(
    phone, adb_server, perf_options, tmp_path
):
    out = tmp_path / "cut.lut"
    phone.faults.cut_at, phone.faults.cut_after = "Session creation time cost", 2
    with pytest.raises(DeviceLostError, match="run the same command again"):
        profile(perf_options, out, SPECS, 6)
    with LutStore.open(out) as store:
        kept = store.layers_frame().set_index("key")
    assert len(kept) == 2  # the two runs that ended before the third one's output was cut

    adb_server.reattach(phone)
    before = len(phone.shell_commands)
    report, rows, _ = profile(perf_options, out, SPECS, 6)
    assert report.measured == 4 and report.skipped == 2
    assert sorted(rows.index) == sorted(s.key for s in SPECS)
    assert rows.loc[kept.index, "measured_at"].tolist() == kept["measured_at"].tolist()
    resumed = "\n".join(phone.shell_commands[before:])
    backend = AdbBackend(**perf_options)  # not entered: for its model files' names
    files = {s.key: backend._model_file(layer_workload(s)).name for s in SPECS}
    assert all(files[k] not in resumed for k in kept.index)  # kept rows are not timed again
    assert all(files[s.key] in resumed for s in SPECS if s.key not in kept.index)
    assert resumed.count("perf_test -e") == 4


@pytest.mark.adb
@pytest.mark.parametrize("fault, message", [("crash", "SIGSEGV"), ("garbage", "unreadable output")])
def test_a_runner_failing_on_one_file_of_a_batch_fails_that_layer_only(
    phone, perf_options, tmp_path, fault, message
):
    phone.faults.runner = fault
    phone.faults.runner_match = (
        AdbBackend(**perf_options)._model_file(layer_workload(SPECS[1])).name
    )
    report, rows, left = profile(perf_options, tmp_path / "fail.lut", SPECS[:3], 3, phone)
    assert list(report.failed) == [SPECS[1].key] and report.measured == 2
    assert message in report.failed[SPECS[1].key]
    assert sorted(rows.index) == sorted(s.key for s in (SPECS[0], SPECS[2]))
    assert len(phone.runner_calls("perf_test -e")) == 3  # in one shell, nothing run twice
    assert len(left) == 1  # only the runner: the failed layer's model is removed too


@pytest.mark.adb
def test_runners_printing_marker_shaped_lines_do_not_confuse_a_batch(phone, bm_options, tmp_path):
    phone.faults.runner = "markers"
    report, rows, _ = profile(bm_options, tmp_path / "markers.lut", SPECS[:3], 3)
    assert report.measured == 3 and not report.failed
    assert (rows["n"] == SETTINGS.runs).all()
    assert len(phone.runner_calls("--graph=")) == 3


@pytest.mark.adb
def test_rows_of_a_batch_are_measured_again_in_the_next_batch(phone, perf_options, tmp_path):
    settings = dataclasses.replace(SETTINGS, ci_tolerance=0.0, max_attempts=2)  # never steady
    with AdbBackend(batch_size=2, **perf_options) as backend:
        with backend.open_lut(tmp_path / "again.lut", settings.identity()) as store:
            report = profile_layers(backend, store, SPECS[:3], settings, progress=False)
            rows = store.layers_frame()
    assert report.measured == 3 and report.remeasured == 3
    assert (rows["attempts"] == 2).all()
    shells = [c.count("perf_test -e") for c in phone.shell_commands if "perf_test -e" in c]
    assert shells == [2, 2, 1, 1]  # 2 new; their 2nd attempts; the 3rd layer; its 2nd


@pytest.mark.adb
def test_ctrl_c_mid_batch_keeps_the_finished_rows_and_ends_the_batch_on_the_phone(
    phone, benchmark_model_runner, tmp_path
):
    out = tmp_path / "ctrl-c.lut"
    args = cli(benchmark_model_runner, out, "--no-progress", "--phone-batch", "4")
    proc = start([*args[:-2], "--runs", "300", *args[-2:]], tmp_path)  # each run a while
    try:
        deadline = time.monotonic() + GUARD_S
        while proc.poll() is None and time.monotonic() < deadline:
            if out.exists() and rows(out) >= 1:  # (rows() of no file would make an empty one)
                break
            time.sleep(0.1)
        assert proc.poll() is None and rows(out) == 1, "the run ended or no row finished"
        proc.send_signal(signal.SIGINT)  # while the batch runs its second layer
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert rows(out) >= 1
    assert gone(phone) and not batch_shells(phone)  # neither the runner nor its shell goes on
    assert phone.files() == []


def batch_shells(phone) -> list[int]:
    """Pids of the batch shells running on ``phone`` (its sandbox path is in their script)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue
        if b"@lutnas-batch" in cmdline and str(phone.root).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def test_the_batch_size_is_checked_on_the_command_line(tmp_path, capsys):
    from lutnas.cli.profile import main

    runner = tmp_path / "benchmark_model"
    runner.write_text("")
    args = ["--backend", "adb", "--runner", str(runner), "--out", str(tmp_path / "x.lut")]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--phone-batch", "0"])
    assert exit_.value.code == 2 and "--phone-batch" in capsys.readouterr().err
    assert not (tmp_path / "x.lut").exists()
