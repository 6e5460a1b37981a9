"""Regularized (aging) evolution, Real et al. 2019, on the ask/tell interface.

The population is a queue ordered by age. Until it holds ``population_size`` told candidates,
``ask`` returns uniformly random ones. After that each ``ask`` draws ``sample_size`` distinct
members at random, takes the one with the highest reward (the first drawn on a tie) as the
parent, and returns it with exactly one decision changed to a different value. Each ``tell``
appends the candidate as the youngest member; when the queue then exceeds ``population_size``
the oldest member is removed, whatever its reward (aging, not culling the worst).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lutnas.errors import LutnasError
from lutnas.numbers import whole
from search.strategies._rng import make_rng, random_tokens, rng_state, set_rng_state
from search.strategies.base import Strategy

MAX_POPULATION = 1_000_000  # members kept (and drawn per tournament) at most


@dataclass(frozen=True)
class Member:
    """One told candidate. ``birth`` is its 0-based position in the sequence of tells."""

    tokens: tuple[int, ...]
    reward: float
    birth: int


def mutate_one(
    rng: np.random.Generator, tokens: Sequence[int], choices: Sequence[int]
) -> list[int]:
    """Copy ``tokens`` with one decision (among those with ≥ 2 choices) set to another value.

    The decision is uniform among the mutable ones and the new value uniform among the other
    choices of that decision. With no mutable decision the copy is returned unchanged.
    """
    child = [int(t) for t in tokens]
    mutable = [i for i, n in enumerate(choices) if n > 1]
    if not mutable:
        return child
    i = mutable[int(rng.integers(len(mutable)))]
    child[i] = (child[i] + int(rng.integers(1, choices[i]))) % choices[i]
    return child


class RegularizedEvolution(Strategy):
    """Aging evolution with tournament selection and one-decision mutation.

    Args:
        choices: number of choices of each decision.
        seed: seed of the strategy's own generator.
        population_size: P, members kept (the initial P candidates are random).
        sample_size: S, members drawn per tournament, 1 ≤ S ≤ P (S = 1 is a random walk,
            larger S is greedier).
    """

    name = "evolution"  # registered by search.strategies.base

    def __init__(
        self,
        choices: Sequence[int],
        seed: int = 0,
        population_size: int = 50,
        sample_size: int = 10,
    ) -> None:
        population_size = whole(population_size, "population_size", 1, MAX_POPULATION)
        sample_size = whole(sample_size, "sample_size", 1, MAX_POPULATION)
        if not sample_size <= population_size:
            raise LutnasError(
                f"evolution needs 1 <= sample_size <= population_size, "
                f"got sample_size={sample_size}, population_size={population_size}"
            )
        super().__init__(
            choices,
            seed,
            {"population_size": int(population_size), "sample_size": int(sample_size)},
        )
        self._population_size = int(population_size)
        self._sample_size = int(sample_size)
        self._rng = make_rng(self.seed)
        self._population: deque[Member] = deque()
        self._num_told = 0
        self._best: Member | None = None

    @property
    def population(self) -> list[Member]:
        """The current members, oldest first."""
        return list(self._population)

    @property
    def num_told(self) -> int:
        return self._num_told

    @property
    def best(self) -> Member | None:
        """The highest-reward candidate ever told (kept even after it aged out); None before
        any tell."""
        return self._best

    def ask(self) -> list[int]:
        if len(self._population) < self._population_size:
            return random_tokens(self._rng, self.choices)
        picks = self._rng.choice(len(self._population), size=self._sample_size, replace=False)
        contenders = [self._population[int(i)] for i in picks]
        parent = max(contenders, key=lambda m: m.reward)  # max keeps the first on ties
        return mutate_one(self._rng, parent.tokens, self.choices)

    def tell(self, tokens: Sequence[int], reward: float) -> None:
        member = Member(tuple(self.check_tokens(tokens)), self.check_reward(reward), self._num_told)
        self._num_told += 1
        self._population.append(member)
        if len(self._population) > self._population_size:
            self._population.popleft()
        if self._best is None or member.reward > self._best.reward:
            self._best = member

    def _state(self) -> dict[str, Any]:
        def encode(m: Member | None) -> list[Any] | None:
            return None if m is None else [list(m.tokens), m.reward, m.birth]

        return {
            "rng": rng_state(self._rng),
            "num_told": self._num_told,
            "population": [encode(m) for m in self._population],
            "best": encode(self._best),
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        def decode(item: Sequence[Any] | None) -> Member | None:
            if item is None:
                return None
            tokens, reward, birth = item
            return Member(tuple(self.check_tokens(tokens)), float(reward), int(birth))

        population = deque(decode(item) for item in state["population"])
        if len(population) > self._population_size:
            raise LutnasError("saved population is larger than population_size")
        best = decode(state["best"])
        num_told = int(state["num_told"])
        set_rng_state(self._rng, state["rng"])
        self._population = population
        self._best = best
        self._num_told = num_told
