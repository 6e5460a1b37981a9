"""Accuracy evaluation on Ray: ``lutnas search --ray`` on a local instance (2 CPUs, no
dashboard) gives the same search as evaluating in-process; without Ray it falls back to local
processes with a warning."""

from __future__ import annotations

import logging

import pytest
from test_search_fixtures import middle_target_ms, run_search, search_args

from lutnas.cli.main import main
from search import parallel
from search.evaluators import get_evaluator
from search.parallel import InProcessExecutor, LocalPoolExecutor, make_executor
from search.record import RECORD_NAME, SearchRecord


@pytest.mark.slow
def test_search_on_a_local_ray_instance_equals_in_process(predictor_path, tmp_path):
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()
    target = middle_target_ms(predictor_path)
    code = main(
        search_args(
            predictor_path,
            tmp_path / "ray",
            "--ray",
            "--no-onnx",
            target=target,
            workers=2,
            strategy=("rl", "hidden_size=16", "batch_size=4"),
        )
    )
    assert code == 0
    assert not ray.is_initialized(), "the instance started for the search was not shut down"
    with SearchRecord.read(tmp_path / "ray" / RECORD_NAME) as record:
        on_ray = record.history()
        workers = {e.worker for e in record.evaluations()}
    assert all(w.startswith("ray node ") for w in workers) and len(workers) == 2, workers

    _, here = run_search(
        tmp_path / "here",
        predictor_path,
        budget=8,
        strategy="rl",
        evaluator=get_evaluator("zero-cost", batch=16),
        target_ms=target,
    )
    assert [(r.tokens, r.accuracy, r.latency_ms, r.reward) for r in on_ray] == [
        (r.tokens, r.accuracy, r.latency_ms, r.reward) for r in here
    ]


def test_without_ray_the_search_falls_back_to_local_processes(monkeypatch, caplog):
    monkeypatch.setattr(parallel, "import_ray", lambda: None)
    evaluator = get_evaluator("zero-cost")
    with caplog.at_level(logging.WARNING, logger="search.parallel"):
        pooled = make_executor(evaluator, workers=2, use_ray=True)
        here = make_executor(evaluator, workers=1, ray_address="10.0.0.1:6379")
    assert isinstance(pooled, LocalPoolExecutor) and pooled.workers == 2
    assert isinstance(here, InProcessExecutor)
    assert caplog.text.count("Ray is not installed") == 2
    assert "pip install 'lutnas[ray]'" in caplog.text
    pooled.close()  # never started: nothing to stop
