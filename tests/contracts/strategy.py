"""The contract every search strategy passes. Subclass ``StrategyContract`` with the strategy's
registry ``name`` and small ``options``; see tests/test_strategies.py."""

from __future__ import annotations

import json
import math

import pytest

from lutnas.errors import LutnasError
from search.strategies import Strategy, get_strategy, list_strategies

CHOICES = (3, 1, 5, 2, 4, 3)  # includes a single-choice decision
TARGET = (2, 0, 4, 1, 0, 1)  # hidden optimum of the toy objective


def toy_reward(tokens):
    """Fraction of decisions equal to the hidden target (random search averages ~0.4 here)."""
    return sum(t == g for t, g in zip(tokens, TARGET, strict=True)) / len(TARGET)


def drive(strategy, steps, reward=toy_reward):
    """Sequential ask/tell; returns the asked token lists."""
    asked = []
    for _ in range(steps):
        tokens = strategy.ask()
        asked.append(list(tokens))
        strategy.tell(tokens, reward(tokens))
    return asked


class StrategyContract:
    """Every strategy subclasses this with its registry name and small options."""

    name = ""
    options: dict = {}
    steps = 40  # enough to pass the evolution's initial population and PPO's first updates

    def make(self, seed=0, choices=CHOICES):
        return get_strategy(self.name, choices, seed=seed, **self.options)

    def test_is_a_strategy_with_its_name(self):
        strategy = self.make()
        assert isinstance(strategy, Strategy)
        assert self.name in list_strategies() and strategy.name == self.name
        assert strategy.choices == CHOICES

    def test_asks_are_valid_token_lists(self):
        strategy = self.make()
        for tokens in drive(strategy, self.steps):
            assert len(tokens) == len(CHOICES)
            assert all(type(t) is int for t in tokens)
            assert all(0 <= t < n for t, n in zip(tokens, CHOICES, strict=True))

    def test_ask_without_tell_is_valid(self):
        strategy = self.make()
        batch = [strategy.ask() for _ in range(5)]  # parallel workers ask before any tell
        for tokens in reversed(batch):  # and report in another order
            strategy.tell(tokens, toy_reward(tokens))
        assert all(0 <= t < n for tokens in batch for t, n in zip(tokens, CHOICES, strict=True))

    def test_same_seed_same_asks(self):
        assert drive(self.make(seed=3), self.steps) == drive(self.make(seed=3), self.steps)

    def test_different_seed_different_asks(self):
        assert drive(self.make(seed=3), self.steps) != drive(self.make(seed=4), self.steps)

    def test_state_round_trip_resumes_identically(self):
        original = self.make(seed=5)
        drive(original, 23)  # mid-batch / mid-population
        outstanding = original.ask()  # asked, not yet told when the state is saved
        state = json.loads(json.dumps(original.state_dict(), allow_nan=False))

        resumed = self.make(seed=6)  # the seed must not matter: the state carries the RNG
        resumed.load_state_dict(state)
        # the outstanding candidate reports back late (after PPO's next update)
        assert drive(resumed, 3) == drive(original, 3)
        for strategy in (original, resumed):
            strategy.tell(outstanding, toy_reward(outstanding))
        assert drive(resumed, self.steps) == drive(original, self.steps)
        # not only the same asks: the same state, bit for bit (e.g. PPO weights)
        assert json.dumps(resumed.state_dict()) == json.dumps(original.state_dict())

    def test_state_is_plain_json(self):
        strategy = self.make()
        drive(strategy, 10)
        text = json.dumps(strategy.state_dict(), allow_nan=False)
        assert json.loads(text)["strategy"] == strategy.name

    def test_load_refuses_other_space_and_keeps_state(self):
        other = get_strategy(self.name, (2, 2), seed=0, **self.options)
        strategy = self.make()
        drive(strategy, 7)
        before = json.dumps(strategy.state_dict())
        with pytest.raises(LutnasError, match="another search space"):
            strategy.load_state_dict(other.state_dict())
        assert json.dumps(strategy.state_dict()) == before

    def test_load_refuses_other_strategy(self):
        other_name = "random" if self.name != "random" else "evolution"
        other = get_strategy(other_name, CHOICES, seed=0)
        with pytest.raises(LutnasError, match="saved by strategy"):
            self.make().load_state_dict(other.state_dict())

    def test_load_refuses_corrupt_state_and_keeps_state(self):
        strategy = self.make()
        drive(strategy, 7)
        before = json.dumps(strategy.state_dict())
        other = self.make(seed=9)
        drive(other, 19)
        broken = json.loads(json.dumps(other.state_dict()))
        del broken["state"]["rng"]  # everything else would load
        with pytest.raises(LutnasError, match="corrupt"):
            strategy.load_state_dict(broken)
        assert json.dumps(strategy.state_dict()) == before

    @pytest.mark.parametrize(
        "tokens",
        [
            [0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0],
            [3, 0, 0, 0, 0, 0],
            [0, 1, 0, 0, 0, 0],
            [0, 0, -1, 0, 0, 0],
            [0.5, 0, 0, 0, 0, 0],
        ],
        ids=["short", "long", "over", "single-choice", "negative", "float"],
    )
    def test_tell_rejects_invalid_tokens(self, tokens):
        with pytest.raises(LutnasError):
            self.make().tell(tokens, 0.5)

    @pytest.mark.parametrize("reward", [math.nan, math.inf, "high"])
    def test_tell_rejects_bad_reward(self, reward):
        with pytest.raises(LutnasError, match="reward"):
            self.make().tell([0] * len(CHOICES), reward)
