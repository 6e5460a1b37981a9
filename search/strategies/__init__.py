"""Search strategies behind one ask/tell interface, looked up by name.

    from search.strategies import get_strategy
    strategy = get_strategy("evolution", choices=[3, 4, 2], seed=0, population_size=20)
    tokens = strategy.ask(); strategy.tell(tokens, reward)

Built-in names: ``random``, ``evolution``, ``rl`` (alias ``ppo``; needs torch). Modules are
imported on first use, so importing this package does not import torch.
"""

from search.strategies.base import (
    Strategy,
    check_choices,
    get_strategy,
    list_strategies,
    register_strategy,
)

__all__ = ["Strategy", "check_choices", "get_strategy", "list_strategies", "register_strategy"]
