"""The user's own pipeline: ``evaluate(arch) -> accuracy`` given as a callable or as
``module:function`` text (for the command line)."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from search.evaluators.base import AccuracyEvaluator


def _resolve(target: str) -> Callable[[Arch], float]:
    module_name, _, attr = target.partition(":")
    if not attr:
        raise LutnasError(f"give the evaluator as module:function, got {target!r}")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise LutnasError(f"cannot load evaluator {target!r}: {exc}") from None


class CallableEvaluator(AccuracyEvaluator):
    name = "callable"

    def __init__(self, fn: Callable[[Arch], float] | str) -> None:
        self.target = fn if isinstance(fn, str) else f"{fn.__module__}:{fn.__qualname__}"
        self._fn = _resolve(fn) if isinstance(fn, str) else fn

    def identity(self) -> dict:
        return {"evaluator": self.name, "target": self.target}

    def evaluate(self, arch: Arch) -> float:
        value = float(self._fn(arch))
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise LutnasError(
                f"{self.target} returned {value!r} for {arch.key}; an accuracy must lie in [0, 1]"
            )
        return value
