"""Seeded numpy generators whose state is plain JSON, for strategies that must resume exactly."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lutnas.errors import LutnasError


def make_rng(seed: int) -> np.random.Generator:
    """A PCG64 generator; the same seed gives the same stream on every platform."""
    return np.random.Generator(np.random.PCG64(seed))


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The generator's state as JSON types (PCG64 state is dicts of ints and a name)."""
    return copy.deepcopy(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: Mapping[str, Any]) -> None:
    """Restore a state from :func:`rng_state`.

    Raises:
        LutnasError: the state is not a PCG64 state.
    """
    try:
        rng.bit_generator.state = dict(state)
    except (TypeError, ValueError, KeyError) as err:
        raise LutnasError(f"bad random-generator state in saved strategy: {err}") from err


def random_tokens(rng: np.random.Generator, choices: Sequence[int]) -> list[int]:
    """One uniformly random token per decision, as Python ints."""
    return [int(rng.integers(n)) for n in choices]
