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
- T17 ``lutnas fit | head -1`` (BrokenPipeError):
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


def test_a_reader_that_goes_away_ends_it_quietly(predictor_path):
    argv = ["predict", "--predictor", str(predictor_path), "--arch", "mnasnet-a1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lutnas.cli.main", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    proc.stdout.close()  # the reader is gone before anything is printed (as head -0)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 128 + signal.SIGPIPE, err
    assert err == "", err


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
