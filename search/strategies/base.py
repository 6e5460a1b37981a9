"""The ask/tell interface every search strategy implements, and the registry by name.

A strategy sees the search space only as ``choices``: one count per decision of the
architecture's token sequence (``[len(d.choices) for d in space.decisions()]``). A token list
is valid when it has one int per decision and token ``i`` lies in ``range(choices[i])``.
"""

from __future__ import annotations

import abc
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from lutnas.errors import LutnasError
from lutnas.numbers import seed as checked_seed
from lutnas.registry import Registry

STATE_FORMAT_VERSION = 1


def check_choices(choices: Sequence[int]) -> tuple[int, ...]:
    """Validate choice counts: a non-empty sequence of ints ≥ 1.

    Raises:
        LutnasError: empty, or a count that is not an int ≥ 1.
    """
    counts = []
    for i, n in enumerate(choices):
        try:
            count = operator.index(n)
        except TypeError:
            raise LutnasError(f"choice count of decision {i} must be an int, got {n!r}") from None
        if count < 1 or isinstance(n, bool):
            raise LutnasError(f"decision {i} must have at least one choice, got {n!r}")
        counts.append(count)
    if not counts:
        raise LutnasError("a search space needs at least one decision; got no choice counts")
    return tuple(counts)


class Strategy(abc.ABC):
    """A search strategy driven by ask/tell, so every strategy runs on the same loop and budget.

    Calling protocol:

    - ``ask()`` is called whenever the search wants a new candidate. It may be called several
      times before the matching ``tell`` calls (parallel evaluation), and an asked candidate may
      never be told (failed or abandoned evaluation).
    - ``tell(tokens, reward)`` is called once per evaluated candidate, in any order, with the
      tokens exactly as returned by ``ask`` and a finite reward (higher is better). Strategies
      may also be told tokens they never asked for (e.g. a known good architecture).
    - ``state_dict()`` may be called between any two calls; ``load_state_dict(state)`` on a
      freshly built strategy with the same choices and options makes it continue exactly where
      the saved one was.

    What callers may rely on:

    - ``ask()`` returns a new ``list[int]`` of Python ints, valid for ``choices``; callers may
      keep or modify it.
    - Determinism: two strategies built with the same choices, seed and options and given the
      same sequence of calls return the same asks.
    - ``state_dict()`` returns plain JSON types (dict, list, str, int, float, bool, None) that
      ``json.dumps`` accepts and that survive a ``json.loads`` round trip; no pickle. After
      ``load_state_dict`` the next asks equal those the saved strategy would have made.
    - Bad input (invalid tokens, non-finite reward, a state from another strategy, space or
      option set) raises :class:`LutnasError`; the strategy's state is then unchanged.

    Subclasses implement ``ask``, ``tell``, ``_state`` and ``_load_state``, and pass their
    options (JSON types) to ``__init__`` so saved states can be checked against them.
    """

    name: ClassVar[str] = ""  # the registry name, recorded in saved states

    def __init__(
        self, choices: Sequence[int], seed: int = 0, options: Mapping[str, Any] | None = None
    ) -> None:
        self._choices = check_choices(choices)
        self._seed = checked_seed(seed)
        self._options = dict(options or {})

    @property
    def choices(self) -> tuple[int, ...]:
        """Number of choices of each decision."""
        return self._choices

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def options(self) -> dict[str, Any]:
        """The strategy's options as given at construction (a copy)."""
        return dict(self._options)

    @abc.abstractmethod
    def ask(self) -> list[int]:
        """Propose the next candidate: one valid token per decision."""

    @abc.abstractmethod
    def tell(self, tokens: Sequence[int], reward: float) -> None:
        """Report the reward of an evaluated candidate (higher is better).

        Raises:
            LutnasError: tokens invalid for ``choices`` or reward not finite.
        """

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as JSON types (see the class docstring)."""
        return {
            "strategy": self.name,
            "format_version": STATE_FORMAT_VERSION,
            "choices": list(self._choices),
            "options": dict(self._options),
            "state": self._state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` (possibly after a JSON round trip).

        Raises:
            LutnasError: the state comes from another strategy, space, option set or format.
        """
        if not isinstance(state, Mapping) or "state" not in state:
            raise LutnasError("not a strategy state: expected the dict made by state_dict()")
        if state.get("strategy") != self.name:
            raise LutnasError(
                f"state was saved by strategy {state.get('strategy')!r}, not {self.name!r}"
            )
        if state.get("format_version") != STATE_FORMAT_VERSION:
            raise LutnasError(
                f"strategy state format {state.get('format_version')!r} is not supported "
                f"(this version reads {STATE_FORMAT_VERSION})"
            )
        if list(state.get("choices", ())) != list(self._choices):
            raise LutnasError(
                "strategy state was saved for another search space "
                f"(choice counts {state.get('choices')} vs {list(self._choices)})"
            )
        if dict(state.get("options", {})) != self._options:
            raise LutnasError(
                f"strategy state was saved with options {state.get('options')}, "
                f"this strategy has {self._options}; build it with the same options"
            )
        backup = self._state()
        try:
            self._load_state(state["state"])
        except (KeyError, IndexError, TypeError, ValueError, LutnasError) as err:
            self._load_state(backup)
            raise LutnasError(f"corrupt {self.name!r} strategy state: {err!r}") from err

    @abc.abstractmethod
    def _state(self) -> dict[str, Any]:
        """The strategy-specific part of the state, as JSON types."""

    @abc.abstractmethod
    def _load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``_state`` returned."""

    def check_tokens(self, tokens: Sequence[int]) -> list[int]:
        """Return ``tokens`` as a list of Python ints if valid for ``choices``.

        Raises:
            LutnasError: wrong length, a non-int, or a token outside its decision's range.
        """
        if len(tokens) != len(self._choices):
            raise LutnasError(
                f"expected {len(self._choices)} tokens (one per decision), got {len(tokens)}"
            )
        out = []
        for i, (token, n) in enumerate(zip(tokens, self._choices, strict=True)):
            try:
                value = operator.index(token)
            except TypeError:
                raise LutnasError(f"token {i} must be an int, got {token!r}") from None
            if not 0 <= value < n:
                raise LutnasError(f"token {i} = {value} is outside range({n}) for decision {i}")
            out.append(value)
        return out

    @staticmethod
    def check_reward(reward: float) -> float:
        """Return ``reward`` as float if finite.

        Raises:
            LutnasError: not a number, NaN or infinite.
        """
        try:
            value = float(reward)
        except (TypeError, ValueError):
            raise LutnasError(f"reward must be a number, got {reward!r}") from None
        if not math.isfinite(value):
            raise LutnasError(f"reward must be finite, got {reward!r}")
        return value


# --- registry ---------------------------------------------------------------------------------

# Built-in strategies are imported on first use, so `rl` (needs torch) costs nothing until asked.
_STRATEGIES: Registry[type[Strategy]] = Registry(
    "strategy",
    builtins={
        "random": "search.strategies.random_search:RandomSearch",
        "evolution": "search.strategies.evolution:RegularizedEvolution",
        "rl": "search.strategies.ppo:PPOController",
        "ppo": "search.strategies.ppo:PPOController",
    },
)

S = TypeVar("S", bound=type[Strategy])


def register_strategy(*names: str) -> Callable[[S], S]:
    """Class decorator: register a :class:`Strategy` subclass under one or more names.

    The first name becomes the class's ``name`` (recorded in its saved states). The built-ins
    are not registered this way: they name themselves and are imported on first use.

    Raises:
        LutnasError: no name given, or a name already taken.
    """
    if not names:
        raise LutnasError("register_strategy needs at least one name")

    def decorate(cls: S) -> S:
        _STRATEGIES.register(names[0], cls, aliases=names[1:])
        cls.name = names[0]
        return cls

    return decorate


def list_strategies() -> list[str]:
    """All strategy names, built-in (even if not yet imported) and registered."""
    return _STRATEGIES.list()


def get_strategy(name: str, choices: Sequence[int], seed: int = 0, **options: Any) -> Strategy:
    """Build the strategy registered as ``name``, e.g. ``get_strategy("evolution", [3, 4], seed=0,
    population_size=20)``.

    Raises:
        LutnasError: unknown name, missing optional dependency, or invalid choices/options.
    """
    return _STRATEGIES.get(name, choices, seed=seed, **options)
