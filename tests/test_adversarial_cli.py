"""The command-line half of the adversarial run of 2026-12-02 (issue 25), kept as tests: every
probe here failed on that day's code (main at 01d9c52) and passes now.

Probes (T = traceback, H = hang or slowness, M = misleading message):

- T1 ``fit --seed`` 1e20-sized: :func:`test_fit_refuses_a_seed_no_generator_takes`.
- T8, T9 an architecture JSON nested 100,000 deep (RecursionError), or binary
  (UnicodeDecodeError); M1 ``--arch-json`` given a directory said "does not exist":
  :func:`test_an_unreadable_architecture_file_is_an_error_line`.
- T12, T13 ``lut export --csv DIR`` / into a missing directory:
  :func:`test_lut_export_into_a_directory_or_a_new_one`.
- T14 ``evaluate --json DIR``: :func:`test_evaluate_json_given_a_directory_is_refused_first`.
- T17 ``lutnas fit | head -1``, ``lutnas lut show host.lut | head -1``, ``lutnas --help | head
  -1`` (BrokenPipeError; exit 120 for text argparse had buffered):
  :func:`test_a_reader_that_goes_away_ends_it_quietly`.
- H1 ``profile-device --dry-run --whole-models 99999999999999999999`` ran without end:
  :func:`test_a_dry_run_of_countless_whole_models_is_refused_at_once`.
- H3 ``predict --arch-json`` of 5,000 archs took 151 s, one model call each:
  :func:`test_predict_many_archs_makes_one_model_call`.
- M3 CLI users told to "pass strict=False": :func:`test_strict_refusals_speak_of_the_option`.
- M4 ``--dry-run --backend nope`` exited 0: :func:`test_a_dry_run_checks_the_backend`.
- M5 printed advice commands embedded user paths unquoted:
  :func:`test_advice_quotes_paths_a_shell_would_split`.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lutnas.cli.main import main
from lutnas.spaces.io import save_archs
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space
from predictor.model import Fitted

ROOT = Path(__file__).resolve().parents[1]


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``lutnas ARGV``, argparse's exits included."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def _error_line(code: int, err: str) -> str:
    assert code == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    return lines[-1]


def test_fit_refuses_a_seed_no_generator_takes(predictor_path, tmp_path, capsys):
    lut = predictor_path.parent / "small.lut"
    argv = ["fit", "--lut", str(lut), "--out", str(tmp_path / "p"), "--seed", "1" + "0" * 20]
    line = _error_line(*_run(argv, capsys)[::2])
    assert "argument --seed: must be from 0 to 4294967295" in line


@pytest.mark.parametrize(
    "content, message",
    [
        ("[" * 100_000 + "]" * 100_000, "is nested too deeply to be read"),
        (bytes(range(256)) * 8, "is not UTF-8 text (byte 128 is 0x80)"),
        (None, "is a directory; give a file"),
    ],
    ids=["nested-100000-deep", "binary", "directory"],
)
def test_an_unreadable_architecture_file_is_an_error_line(
    predictor_path, tmp_path, capsys, content, message
):
    path = tmp_path / "arch.json"
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    argv = ["predict", "--predictor", str(predictor_path), "--arch-json", str(path)]
    line = _error_line(*_run(argv, capsys)[::2])
    assert f"architecture file {path} {message}" in line


def test_lut_export_into_a_directory_or_a_new_one(predictor_path, tmp_path, capsys):
    lut = predictor_path.parent / "small.lut"
    line = _error_line(*_run(["lut", "export", str(lut), "--csv", str(tmp_path)], capsys)[::2])
    assert f"--csv {tmp_path} is a directory; give a file name, e.g. --csv {tmp_path}/" in line
    new = tmp_path / "new" / "dir" / "rows.csv"  # a directory that does not exist yet
    code, out, err = _run(["lut", "export", str(lut), "--csv", str(new)], capsys)
    assert code == 0, err
    with new.open() as f:
        assert len(list(csv.DictReader(f))) > 0


def test_evaluate_json_given_a_directory_is_refused_first(
    both_spaces_predictor_path, tmp_path, capsys
):
    lut = both_spaces_predictor_path.parent / "both.lut"
    argv = ["evaluate", "--lut", str(lut), "--no-curve", "--json", str(tmp_path)]
    line = _error_line(*_run(argv, capsys)[::2])
    assert f"--json {tmp_path} is a directory" in line


def _reader_goes_away(command: list[str], after_lines: int) -> tuple[int, str]:
    """Exit status and stderr of ``command | head -N`` with a real pipe: its reader closes it
    after ``after_lines`` lines (0: before anything is printed). Output is block-buffered as in
    a user's shell (no PYTHONUNBUFFERED), so text still buffered at exit is flushed then."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    for _ in range(after_lines):
        assert proc.stdout.readline(), "the command printed fewer lines than the reader reads"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=300), err


LUTNAS, PROFILE = ["-m", "lutnas.cli.main"], ["-m", "lutnas.cli.profile"]


@pytest.mark.parametrize(
    "command, after_lines",
    [
        # the reader is gone before anything is printed (head -0): the first flush fails
        ([*LUTNAS, "predict", "--predictor", "{predictor}", "--arch", "mnasnet-a1"], 0),
        ([*LUTNAS, "lut", "show", "{lut}"], 0),
        ([*PROFILE, "--dry-run"], 0),
        ([*LUTNAS, "--help"], 0),  # argparse's text, buffered while it exits
        ([*LUTNAS, "--version"], 0),
        ([*PROFILE, "--help"], 0),
        # head -1 of more than a pipe holds: the command is still printing when it goes away
        ([*LUTNAS, "predict", "--predictor", "{predictor}", "--arch-json", "{archs}", "--json"], 1),
    ],
    ids=["predict", "lut-show", "profile-dry-run", "help", "version", "profile-help"]
    + ["predict-many-head-1"],
)
def test_a_reader_that_goes_away_ends_it_quietly(predictor_path, tmp_path, command, after_lines):
    archs = tmp_path / "archs.json"
    save_archs(archs, sample_archs(get_space("mnasnet"), 600, 5, (160,)))  # ~200 KB of --json
    lut = predictor_path.parent / "small.lut"
    argv = [a.format(predictor=predictor_path, lut=lut, archs=archs) for a in command]
    code, err = _reader_goes_away(argv, after_lines)
    assert (code, err) == (128 + signal.SIGPIPE, "")


def test_a_usage_error_keeps_its_status_when_the_reader_goes_away():
    code, err = _reader_goes_away([*LUTNAS, "lut", "show"], 0)
    assert code == 2
    assert "the following arguments are required: lut" in err


def test_a_dry_run_of_countless_whole_models_is_refused_at_once():
    argv = ["--dry-run", "--whole-models", "99999999999999999999"]
    run = subprocess.run(
        [sys.executable, "-m", "lutnas.cli.profile", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert "argument --whole-models: must be from 0 to 10000" in run.stderr


def test_a_dry_run_checks_the_backend(capsys):
    from lutnas.cli.profile import main as profile_main

    assert profile_main(["--dry-run", "--backend", "nope"]) == 2
    assert "unknown backend 'nope'" in capsys.readouterr().err


def test_predict_many_archs_makes_one_model_call(predictor_path, tmp_path, capsys, monkeypatch):
    archs = sample_archs(get_space("mnasnet"), 300, 5, (160, 192))
    save_archs(tmp_path / "archs.json", archs)
    calls, real = [], Fitted.predict_log_ratio

    def counted(self, x):
        calls.append(len(x))
        return real(self, x)

    monkeypatch.setattr(Fitted, "predict_log_ratio", counted)
    argv = [
        "predict",
        "--predictor",
        str(predictor_path),
        "--arch-json",
        str(tmp_path / "archs.json"),
    ]
    code, out, err = _run([*argv, "--json"], capsys)
    assert code == 0, err
    assert calls == [300]  # one vectorised call, not one per architecture
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["network"] for r in records] == [a.key for a in archs]
    assert all(r["low_ms"] <= r["latency_ms"] <= r["high_ms"] for r in records)


def test_strict_refusals_speak_of_the_option(predictor_path, capsys):
    argv = ["predict", "--predictor", str(predictor_path), "--arch", "mnasnet-a1", "--strict"]
    line = _error_line(*_run(argv, capsys)[::2])  # its rows at 224 px are not in the LUT
    assert "are not in the LUT and --strict refuses to estimate them" in line
    assert "drop --strict to estimate them" in line and "strict=False" not in line


def test_advice_quotes_paths_a_shell_would_split(predictor_path, tmp_path, capsys):
    missing = tmp_path / "my predictors" / "host's.predictor"
    argv = ["predict", "--predictor", str(missing), "--arch", "mnasnet-a1"]
    line = _error_line(*_run(argv, capsys)[::2])
    quoted = "'" + str(missing).replace("'", "'\"'\"'") + "'"  # shlex.quote
    assert f"lutnas fit --lut LUT --out {quoted}" in line
