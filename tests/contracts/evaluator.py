"""The contract every accuracy evaluator passes. Subclass ``EvaluatorContract`` with the
evaluator's registry ``name`` and cheap ``options``; see tests/test_search_evaluators.py."""

from __future__ import annotations

import json
import pickle

from lutnas.spaces.arch import Arch
from search.evaluators import AccuracyEvaluator, get_evaluator, list_evaluators

ARCH = Arch.from_tokens("mnasnet", [0] * 43)  # conv k3, narrowest, fewest layers, 160 px


class EvaluatorContract:
    name = ""
    options: dict = {}

    def make(self) -> AccuracyEvaluator:
        return get_evaluator(self.name, **self.options)

    def test_is_registered_under_its_name(self):
        evaluator = self.make()
        assert isinstance(evaluator, AccuracyEvaluator)
        assert self.name in list_evaluators() and evaluator.name == self.name

    def test_identity_is_json_and_names_the_evaluator(self):
        identity = self.make().identity()
        assert identity["evaluator"] == self.name
        assert json.loads(json.dumps(identity)) == identity
        assert self.make().identity() == identity

    def test_scores_lie_in_0_1_and_repeat_for_the_same_options(self):
        score = self.make().evaluate(ARCH)
        assert isinstance(score, float) and 0.0 <= score <= 1.0
        assert self.make().evaluate(ARCH) == score

    def test_a_pickled_copy_scores_the_same(self):
        # what a worker process receives
        evaluator = self.make()
        copy = pickle.loads(pickle.dumps(evaluator))
        assert copy.identity() == evaluator.identity()
        assert copy.evaluate(ARCH) == evaluator.evaluate(ARCH)

    def test_label_says_whether_it_is_an_accuracy(self):
        evaluator = self.make()
        assert ("not an accuracy" in evaluator.label) == evaluator.is_proxy
