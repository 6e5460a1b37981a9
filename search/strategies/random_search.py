"""Random search: every candidate drawn uniformly and independently, the baseline to beat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from search.strategies._rng import make_rng, random_tokens, rng_state, set_rng_state
from search.strategies.base import Strategy


class RandomSearch(Strategy):
    """Uniform sampling of each decision; ``tell`` only validates and counts."""

    name = "random"  # registered by search.strategies.base

    def __init__(self, choices: Sequence[int], seed: int = 0) -> None:
        super().__init__(choices, seed)
        self._rng = make_rng(self.seed)
        self._num_told = 0

    @property
    def num_told(self) -> int:
        """How many candidates have been told."""
        return self._num_told

    def ask(self) -> list[int]:
        return random_tokens(self._rng, self.choices)

    def tell(self, tokens: Sequence[int], reward: float) -> None:
        self.check_tokens(tokens)
        self.check_reward(reward)
        self._num_told += 1

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self._rng), "num_told": self._num_told}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        set_rng_state(self._rng, state["rng"])
        self._num_told = int(state["num_told"])
