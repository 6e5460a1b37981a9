"""Random architectures of a space (uniform over each decision's choices), seeded."""

from __future__ import annotations

import random

from lutnas.spaces.arch import Arch
from lutnas.spaces.base import Space


def sample_arch(
    space: Space, rng: random.Random, resolutions: tuple[int, ...] | None = None
) -> Arch:
    tokens = [rng.randrange(n) for n in space.choice_counts()]
    if resolutions:
        tokens[0] = 0
        arch = Arch.from_tokens(space.name, tokens)
        return Arch(arch.space, rng.choice(resolutions), arch.blocks)
    return Arch.from_tokens(space.name, tokens)


def sample_archs(
    space: Space, n: int, seed: int = 0, resolutions: tuple[int, ...] | None = None
) -> list[Arch]:
    """``n`` distinct random architectures (fewer only if the space is that small)."""
    rng = random.Random(seed)
    out: dict[str, Arch] = {}
    for _ in range(n * 20):
        if len(out) == n:
            break
        a = sample_arch(space, rng, resolutions)
        out.setdefault(a.key, a)
    return list(out.values())
