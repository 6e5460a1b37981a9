"""Kill a running ``lutnas search`` for real (SIGKILL to its process group, workers included)
and resume it: no recorded candidate is lost or evaluated again, and the result equals an
uninterrupted search."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_search_fixtures import middle_target_ms, run_search, search_args

from search.record import RECORD_NAME, SearchRecord

TESTS = Path(__file__).parent
BUDGET = 16


def _command(predictor: Path, out: Path, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lutnas.cli.main",
        *search_args(
            predictor,
            out,
            "--evaluator-arg",
            "test_search_fixtures:fake_accuracy",
            "--no-onnx",
            budget=BUDGET,
            workers=workers,
            evaluator=("callable",),
        ),
    ]


def _env(log: Path) -> dict:
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {
        **os.environ,
        "PYTHONPATH": path,
        "LUTNAS_TEST_EVAL_LOG": str(log),
        "LUTNAS_TEST_EVAL_SLEEP": "0.4",
    }


def _progress(record_path: Path) -> tuple[int, int]:
    """(told candidates, evaluations) on disk, (0, 0) before the record exists."""
    if not record_path.exists():
        return 0, 0
    try:
        with SearchRecord.read(record_path) as record:
            return record.tell_count(), len(record.evaluations())
    except Exception:  # noqa: BLE001 - created but not initialised yet
        return 0, 0


def _kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the pool workers die with the group
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError("processes of the killed search survived SIGKILL")


@pytest.mark.slow
def test_killed_search_resumes_without_losing_or_repeating_evaluations(predictor_path, tmp_path):
    out, log = tmp_path / "search", tmp_path / "evaluations.log"
    record_path = out / RECORD_NAME
    proc = subprocess.Popen(
        _command(predictor_path, out, workers=2),
        env=_env(log),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:  # kill inside batch 1: batch 0 told, some of batch 1 evaluated
            tells, evaluations = _progress(record_path)
            if tells >= 4 and evaluations >= tells + 1:
                break
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the search made no progress"
            time.sleep(0.05)
    finally:
        _kill_group(proc)

    with SearchRecord.read(record_path) as record:
        told_at_kill = record.tell_count()
        kept = {e.arch_key: e.accuracy for e in record.evaluations() if e.accuracy is not None}
    assert 4 <= told_at_kill < BUDGET
    assert len(kept) > told_at_kill, "the kill should fall between two batches' commits"
    lines_before = log.read_text().splitlines()

    # resume with one worker: the worker count is not part of the configuration
    done = subprocess.run(
        _command(predictor_path, out, workers=1),
        env=_env(log),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"resuming at {told_at_kill}" in done.stdout
    resumed_keys = [
        line.split(" ", 1)[1] for line in log.read_text().splitlines()[len(lines_before) :]
    ]
    assert resumed_keys, "the resumed search evaluated nothing"
    assert not set(kept) & set(resumed_keys), "a recorded evaluation was run again"
    assert len(resumed_keys) == len(set(resumed_keys))

    with SearchRecord.read(record_path) as record:
        history = record.history()
        final = {e.arch_key: e.accuracy for e in record.evaluations()}
    assert len(history) == BUDGET
    assert all(final[k] == acc for k, acc in kept.items()), "a recorded evaluation was lost"
    assert (out / "pareto.csv").is_file() and (out / "best_arch.json").is_file()

    # and the result is the uninterrupted search's, candidate for candidate
    _, reference = run_search(
        tmp_path / "reference",
        predictor_path,
        budget=BUDGET,
        target_ms=middle_target_ms(predictor_path),
    )
    assert [(r.tokens, r.accuracy, r.latency_ms, r.reward) for r in history] == [
        (r.tokens, r.accuracy, r.latency_ms, r.reward) for r in reference
    ]
