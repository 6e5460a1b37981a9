"""A strategy that searches only some of a space's resolutions (``lutnas search --resolution``).

The runner decodes tokens with the *registered* space of the record's name
(``Arch.from_tokens(space.name, tokens)``), so a space copied with fewer resolutions would have
its resolution token decoded against the full list. Instead, the inner strategy is built on the
restricted choice counts and this wrapper maps its resolution token to the full space's index
and back. The searched resolutions are part of the wrapper's options, hence of the search
record's configuration: resuming with other resolutions is refused like any other change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lutnas.errors import LutnasError
from lutnas.spaces.space import Space
from search.strategies.base import Strategy


def check_resolutions(space: Space, resolutions: Sequence[int]) -> tuple[int, ...]:
    """``resolutions`` deduplicated, in the space's order.

    Raises:
        LutnasError: a resolution the space does not search.
    """
    unknown = sorted(set(resolutions) - set(space.resolutions))
    if unknown:
        raise LutnasError(
            f"--resolution {', '.join(map(str, unknown))}: space {space.name!r} searches "
            f"{', '.join(map(str, space.resolutions))} only"
        )
    return tuple(r for r in space.resolutions if r in set(resolutions))


class RestrictedResolutions(Strategy):
    """``inner`` (built on ``restricted_choices(space, resolutions)``) seen as a strategy of
    the full ``space`` whose resolution token only takes ``resolutions``."""

    def __init__(self, inner: Strategy, space: Space, resolutions: Sequence[int]) -> None:
        if space.decisions()[0].name != "resolution":
            raise LutnasError(f"space {space.name!r} has no leading resolution decision")
        searched = check_resolutions(space, resolutions)
        self._full_index = [space.resolutions.index(r) for r in searched]
        self._space_resolutions = tuple(space.resolutions)
        if list(inner.choices) != restricted_choices(space, searched):
            raise LutnasError("the inner strategy was not built for the restricted space")
        super().__init__(
            space.choice_counts(), inner.seed, {**inner.options, "resolutions": list(searched)}
        )
        self.inner = inner
        self.name = inner.name  # the record names the strategy the user chose

    def ask(self) -> list[int]:
        tokens = self.inner.ask()
        tokens[0] = self._full_index[tokens[0]]
        return tokens

    def tell(self, tokens: Sequence[int], reward: float) -> None:
        tokens = self.check_tokens(tokens)
        if tokens[0] not in self._full_index:
            raise LutnasError(
                f"resolution {self._space_resolutions[tokens[0]]} is not searched "
                f"(--resolution {self.options['resolutions']})"
            )
        self.inner.tell([self._full_index.index(tokens[0]), *tokens[1:]], reward)

    def _state(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict()}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])


def restricted_choices(space: Space, resolutions: Sequence[int]) -> list[int]:
    """The space's choice counts with the resolution decision limited to ``resolutions``."""
    return [len(resolutions), *space.choice_counts()[1:]]
