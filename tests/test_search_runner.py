"""The search loop with real parts: a predictor fitted on onnxruntime measurements, real
evaluators, SQLite records. Each strategy end to end, tells in ask order, reuse of known
accuracies, failures, in-process interruption and resume, worker-count independence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_search_fixtures import (
    always_failing,
    build_search,
    failing_for_some,
    fake_accuracy,
    run_search,
)

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from predictor import LatencyPredictor
from search.evaluators import get_evaluator
from search.parallel import InProcessExecutor, LocalPoolExecutor
from search.record import RECORD_NAME, SearchRecord
from search.strategies.base import Strategy


def _signature(history):
    return [(r.tokens, r.arch_key, r.accuracy, r.latency_ms, r.reward, r.reused) for r in history]


@pytest.mark.parametrize("strategy", ["random", "evolution", "rl"])
def test_each_strategy_end_to_end_with_zero_cost(strategy, predictor_path, tmp_path):
    evaluator = get_evaluator("zero-cost", batch=16)
    runner = build_search(tmp_path, predictor_path, strategy=strategy, evaluator=evaluator)
    with runner.record, runner.executor:
        report = runner.run(8)
        history = runner.record.history()
        point = runner.record.resume_point()
        evaluations = runner.record.evaluations()
        assert point.strategy_state == json.loads(json.dumps(runner.strategy.state_dict()))
    assert report.tells == 8 and [r.seq for r in history] == list(range(8))
    assert [r.batch for r in history] == [0] * 4 + [1] * 4
    archs = [Arch.from_tokens("mnasnet", list(r.tokens)) for r in history]
    assert [a.key for a in archs] == [r.arch_key for r in history]
    predicted = LatencyPredictor.load(predictor_path).predict_many(archs)
    np.testing.assert_allclose([r.latency_ms for r in history], predicted, rtol=1e-9)
    for r in history:
        assert 0.0 < r.accuracy <= 1.0
        assert r.reward == pytest.approx(runner.reward(r.accuracy, r.latency_ms), rel=1e-12)
    assert len(evaluations) == len({r.arch_key for r in history})
    assert point.batches == 2 and point.tells == 8 and point.pending_tokens is None
    if strategy == "evolution":  # batch 1 was asked after batch 0 was told: mutations of it
        for r in history[4:]:
            assert any(
                sum(a != b for a, b in zip(r.tokens, p.tokens, strict=True)) == 1
                for p in history[:4]
            ), r.tokens
    if strategy == "rl":  # one PPO update per 4 tells
        assert runner.strategy.num_updates == 2


def test_search_is_deterministic_and_independent_of_workers(predictor_path, tmp_path, monkeypatch):
    monkeypatch.setenv("LUTNAS_TEST_EVAL_SLEEP", "0.05")  # evaluations finish out of order
    _, here = run_search(tmp_path / "a", predictor_path, budget=12, strategy="rl")
    evaluator = get_evaluator("callable", fn=fake_accuracy)
    _, pooled = run_search(
        tmp_path / "b",
        predictor_path,
        budget=12,
        strategy="rl",
        evaluator=evaluator,
        executor=LocalPoolExecutor(evaluator, 2),
    )
    assert _signature(here) == _signature(pooled)
    with SearchRecord.read(tmp_path / "b" / RECORD_NAME) as record:
        workers = {e.worker for e in record.evaluations()}
    assert len(workers) == 2, workers  # both processes evaluated something


class _Repeat(Strategy):
    """Asks two fixed candidates alternately (to exercise reuse of known accuracies)."""

    name = "repeat-test"

    def __init__(self, choices, seed=0):
        super().__init__(choices, seed)
        self._asked = 0

    def ask(self):
        self._asked += 1
        return [self._asked % 2] * len(self.choices)

    def tell(self, tokens, reward):
        self.check_tokens(tokens)
        self.check_reward(reward)

    def _state(self):
        return {"asked": self._asked}

    def _load_state(self, state):
        self._asked = int(state["asked"])


def test_a_known_accuracy_is_reused_not_evaluated_again(predictor_path, tmp_path):
    calls = []

    def counting(arch):
        calls.append(arch.key)
        return fake_accuracy(arch)

    evaluator = get_evaluator("callable", fn=counting)
    runner = build_search(tmp_path, predictor_path, evaluator=evaluator, batch_size=3)
    runner.strategy = _Repeat(runner.space.choice_counts())
    with runner.record:
        report = runner.run(7)
        history = runner.record.history()
    assert len(calls) == 2 and len(set(calls)) == 2
    assert [r.reused for r in history] == [False, False] + [True] * 5
    assert report.fresh_evaluations == 2 and report.reused == 5


def test_failed_evaluations_score_zero_and_are_recorded(predictor_path, tmp_path):
    evaluator = get_evaluator("callable", fn=failing_for_some)
    report, history = run_search(
        tmp_path, predictor_path, budget=12, strategy="random", evaluator=evaluator
    )
    failed = [r for r in history if r.accuracy is None]
    assert failed and len(failed) < len(history), "the fixture should fail some, not all"
    assert all(r.reward == 0.0 for r in failed)
    assert report.failed_evaluations == len({r.arch_key for r in failed})
    with SearchRecord.read(tmp_path / RECORD_NAME) as record:
        errors = {e.arch_key: e.error for e in record.evaluations() if e.accuracy is None}
        assert all("ValueError: cannot train" in text for text in errors.values())
        # failures are not reused: a resumed batch evaluates them again
        assert set(record.successful_evaluations(errors)) == set()


def test_a_batch_where_every_evaluation_fails_stops_and_tells_nothing(predictor_path, tmp_path):
    evaluator = get_evaluator("callable", fn=always_failing)
    with pytest.raises(LutnasError, match="all 4 evaluations of batch 0 failed.*broken"):
        run_search(tmp_path, predictor_path, budget=8, evaluator=evaluator)
    with SearchRecord.read(tmp_path / RECORD_NAME) as record:
        assert record.tell_count() == 0
        assert record.resume_point().pending_tokens is not None
        assert len(record.evaluations()) == 4


@pytest.mark.parametrize("strategy", ["evolution", "rl"])
def test_interrupted_search_resumes_to_the_uninterrupted_result(strategy, predictor_path, tmp_path):
    _, reference = run_search(tmp_path / "ref", predictor_path, budget=12, strategy=strategy)

    calls: list[str] = []

    def interrupted_at_7(arch):
        if len(calls) == 6:
            raise KeyboardInterrupt
        calls.append(arch.key)
        return fake_accuracy(arch)

    evaluator = get_evaluator("callable", fn=interrupted_at_7)
    evaluator.target = "test_search_fixtures:fake_accuracy"  # same identity as the reference
    with pytest.raises(KeyboardInterrupt):
        run_search(
            tmp_path / "cut", predictor_path, budget=12, strategy=strategy, evaluator=evaluator
        )
    with SearchRecord.read(tmp_path / "cut" / RECORD_NAME) as record:
        assert record.tell_count() == 4  # batch 0 complete, batch 1 in flight
        assert len(record.evaluations()) == 6  # ... with its first 2 evaluations kept
        kept = {e.arch_key for e in record.evaluations()}

    resumed_calls: list[str] = []

    def counting(arch):
        resumed_calls.append(arch.key)
        return fake_accuracy(arch)

    evaluator = get_evaluator("callable", fn=counting)
    evaluator.target = "test_search_fixtures:fake_accuracy"
    _, resumed = run_search(
        tmp_path / "cut", predictor_path, budget=12, strategy=strategy, evaluator=evaluator
    )
    assert not kept & set(resumed_calls), "a recorded evaluation was run again"
    assert _signature(resumed) == _signature(reference)


def test_a_finished_search_can_be_extended(predictor_path, tmp_path):
    _, reference = run_search(tmp_path / "ref", predictor_path, budget=12)
    run_search(tmp_path / "ext", predictor_path, budget=8)
    report, extended = run_search(tmp_path / "ext", predictor_path, budget=12)
    assert report.tells_this_run == 4
    assert _signature(extended) == _signature(reference)


def test_a_record_refuses_another_configuration_and_a_second_search(predictor_path, tmp_path):
    run_search(tmp_path, predictor_path, budget=4, seed=0)
    with pytest.raises(
        LutnasError,
        match=r"another configuration \(strategy.seed: record has "
        r"0, this run 1\)",
    ):
        run_search(tmp_path, predictor_path, budget=4, seed=1)
    with pytest.raises(LutnasError, match="population_size"):
        run_search(tmp_path, predictor_path, budget=4, strategy_opts={"population_size": 5})
    runner = build_search(tmp_path, predictor_path)
    try:
        with pytest.raises(LutnasError, match="another search is running"):
            build_search(tmp_path, predictor_path)
    finally:
        runner.record.close()


def test_not_a_record_is_a_clear_error(tmp_path):
    (tmp_path / RECORD_NAME).write_text("not sqlite at all " * 100)
    with pytest.raises(LutnasError, match="not a lutnas search record"):
        SearchRecord.open(tmp_path / RECORD_NAME, {"x": 1})
    with pytest.raises(LutnasError, match="no search record"):
        SearchRecord.read(tmp_path / "missing" / RECORD_NAME)


def test_in_process_executor_reports_errors_as_outcomes():
    evaluator = get_evaluator("callable", fn=failing_for_some)
    archs = [Arch.from_tokens("mnasnet", [i % 2] * 43) for i in range(2)]
    outcomes = list(InProcessExecutor(evaluator).map_unordered(archs))
    assert [o.index for o in outcomes] == [0, 1]
    for o in outcomes:
        assert (o.accuracy is None) == (o.error is not None)
