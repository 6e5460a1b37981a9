"""The search half of the adversarial run of 2026-12-02 (issue 25), kept as tests: every probe
here failed on that day's code (main at 01d9c52) and passes now.

Probes (L = lost, S = silently wrong, T = traceback):

- L4 a full disk while writing search outputs left a truncated ``best_arch.onnx`` and the error
  named the export cache's file: :func:`test_a_full_disk_leaves_no_truncated_output_and_names_it`
  (a real tmpfs).
- S12 a search record killed within milliseconds of ``search.sqlite`` appearing was refused on
  rerun ("not a lutnas search record"), once with ``KeyError: 'config'``:
  :func:`test_a_record_left_unfinished_is_made_anew`,
  :func:`test_a_search_killed_as_its_record_appears_resumes`.
- S9-S11 rl ``entropy_coef=inf``, proxy-train ``lr=NaN``, zero-cost ``batch=-1`` accepted:
  :func:`test_options_out_of_range_are_refused`.
- T2-T7 ``--workers``/``--seed`` overflow, ``--strategy-opt population_size=abc|nan|1e999``, rl
  ``lr=abc``: :func:`test_numeric_options_are_error_lines`.
- T15 ``search --out FILE``: :func:`test_out_given_a_file_is_an_error_line`.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mount_namespace import run_on_small_disk, tmpfs_works
from test_search_fixtures import search_args

from lutnas.cli.main import main
from lutnas.errors import LutnasError
from search.evaluators import get_evaluator
from search.record import SearchRecord
from search.strategies import get_strategy

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {"strategy": "evolution", "seed": 0, "target_ms": 5.0}


def _run(argv: list[str], capsys) -> tuple[int, str]:
    """Exit status and stderr of ``lutnas ARGV``, argparse's exits included."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


# --- L4 ----------------------------------------------------------------------------------------


WRITE_OUTPUTS = textwrap.dedent(
    """
    import dataclasses, sys
    from pathlib import Path
    from lutnas.cli_util import user_errors
    from lutnas.spaces.named import get_named_arch
    from search.outputs import write_outputs
    from search.record import HistoryRow

    out = Path(sys.argv[1])
    archs = [dataclasses.replace(get_named_arch(n), resolution=160)
             for n in ("mnasnet-a1", "mobilenetv2-1.0")]
    history = [
        HistoryRow(seq=i, batch=0, position=i, tokens=(0,), arch_key=a.key,
                   arch_json=a.to_json(), accuracy=0.5 + i / 10, latency_ms=5.0 + i,
                   reward=0.5 + i / 10, reused=False)
        for i, a in enumerate(archs)
    ]
    (out / "best_arch.onnx").write_bytes(b"the previous search's network")
    status = user_errors(lambda: write_outputs(history, out, score_label="s", is_proxy=True,
                                               target_ms=6.0) and 0)()
    print("status", status)
    print("previous", (out / "best_arch.onnx").read_bytes() == b"the previous search's network")
    print("files", sorted(p.name for p in out.iterdir()))
    """
)


@pytest.mark.skipif(not tmpfs_works(), reason="needs root and mount namespaces")
def test_a_full_disk_leaves_no_truncated_output_and_names_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    cache = tmp_path / "cache"  # the export cache, on a disk with room
    env = {"LUTNAS_CACHE_DIR": str(cache)}
    run = run_on_small_disk(out, "1m", WRITE_OUTPUTS, str(out), env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0] == "status 2", run.stdout
    assert (
        f"error: cannot write ({out}/best_arch.onnx): No space left on device; free space"
        in run.stderr
    ), run.stderr
    assert str(cache) not in run.stderr  # not the file that was read
    assert lines[1] == "previous True"  # the old file whole, not a truncated new one
    files = lines[2]
    assert ".tmp" not in files, files


# --- S12 ----------------------------------------------------------------------------------------


def _unfinished(path: Path, state: str) -> None:
    """A record as lutnas 01d9c52 left it when killed while creating it."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    if state in ("schema", "no-config"):
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("CREATE TABLE history (seq INTEGER PRIMARY KEY)")
        conn.commit()
    if state == "no-config":
        for key, value in (("format", "lutnas-search"), ("schema_version", 1)):
            conn.execute("INSERT INTO meta VALUES (?, ?)", (key, json.dumps(value)))
        conn.commit()
    conn.close()


@pytest.mark.parametrize("state", ["header", "schema", "no-config"])
def test_a_record_left_unfinished_is_made_anew(tmp_path, state):
    path = tmp_path / "search.sqlite"
    _unfinished(path, state)
    with SearchRecord.open(path, CONFIG) as record:
        assert record.config == CONFIG
        assert record.tell_count() == 0
    with SearchRecord.open(path, CONFIG) as record:  # and resumed like any record
        assert record.config == CONFIG


def test_a_file_that_is_no_record_is_still_refused_and_kept(tmp_path):
    path = tmp_path / "search.sqlite"
    path.write_bytes(b"my notes, not a database" * 100)
    with pytest.raises(LutnasError, match="not a lutnas search record"):
        SearchRecord.open(path, CONFIG)
    assert path.read_bytes() == b"my notes, not a database" * 100


KILL_AS_IT_APPEARS = textwrap.dedent(
    """
    import os, sys, threading
    from search.record import SearchRecord
    path = sys.argv[1]
    threading.Thread(target=SearchRecord.open, args=(path, {config!r}), daemon=True).start()
    while not os.path.exists(path):
        pass
    os._exit(9)  # killed the moment search.sqlite appears
    """
)


def test_a_search_killed_as_its_record_appears_resumes(tmp_path):
    for i in range(8):
        path = tmp_path / str(i) / "search.sqlite"
        path.parent.mkdir()
        code = KILL_AS_IT_APPEARS.format(config=CONFIG)
        run = subprocess.run(
            [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, timeout=120
        )
        assert run.returncode == 9, run.stderr
        with SearchRecord.open(path, CONFIG) as record:  # the rerun
            assert record.config == CONFIG


# --- S9-S11, T2-T7, T15 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: get_strategy("rl", [3, 4], entropy_coef=float("inf")), "entropy_coef"),
        (lambda: get_evaluator("proxy-train", lr=float("nan")), "lr must be a number above 0"),
        (lambda: get_evaluator("zero-cost", batch=-1), "batch must be a whole number from 2"),
    ],
    ids=["rl-entropy-inf", "proxy-lr-nan", "zero-cost-batch"],
)
def test_options_out_of_range_are_refused(build, message):
    with pytest.raises(LutnasError, match=message):
        build()


@pytest.mark.parametrize(
    "strategy, change, message",
    [
        (None, ["--workers", "100000000000000000000"], "--workers must be at least 1 and at most"),
        (None, ["--seed", "100000000000000000000"], "--seed: must be from 0 to 4294967295"),
        (None, ["--budget", "100000000000000000000"], "--budget must be at least 1 and at most"),
        (("evolution", "population_size=abc"), [], "population_size must be a whole number"),
        (("evolution", "population_size=nan"), [], "population_size must be a whole number"),
        (("evolution", "population_size=1e999"), [], "population_size must be a whole number"),
        (("rl", "lr=abc"), [], "lr must be a number above 0"),
        (("rl", "entropy_coef=inf"), [], "entropy_coef must be a number"),
        (None, ["--evaluator-opt", "batch=-1"], "batch must be a whole number from 2"),
    ],
    ids=[
        "workers",
        "seed",
        "budget",
        "population-abc",
        "population-nan",
        "population-inf",
        "rl-lr-abc",
        "rl-entropy-inf",
        "batch-negative",
    ],
)
def test_numeric_options_are_error_lines(
    predictor_path, tmp_path, capsys, strategy, change, message
):
    chosen = {"strategy": strategy} if strategy else {}
    argv = [*search_args(predictor_path, tmp_path / "out", **chosen), *change]
    code, err = _run(argv, capsys)
    assert code == 2 and "Traceback" not in err, err
    assert message in err, err
    assert not (tmp_path / "out" / "search.sqlite").exists()  # refused before any work


def test_out_given_a_file_is_an_error_line(predictor_path, tmp_path, capsys):
    (tmp_path / "notes").write_text("mine")
    code, err = _run(search_args(predictor_path, tmp_path / "notes"), capsys)
    assert code == 2 and "Traceback" not in err, err
    assert f"--out {tmp_path / 'notes'} is a file" in err
    assert (tmp_path / "notes").read_text() == "mine"
