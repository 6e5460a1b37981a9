"""What an accuracy evaluator promises, and the registry of them.

The search calls ``evaluate(arch)`` once per distinct architecture (results are cached by arch
key in the search's record), possibly in another process or on a Ray worker, so an evaluator
must be picklable between *our own* processes and deterministic for a given arch and options.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import ClassVar

from lutnas.errors import LutnasError
from spaces.arch import Arch


class AccuracyEvaluator(ABC):
    """Scores an architecture in [0, 1]; higher is better.

    ``is_proxy`` is True when the score is not an accuracy at all (a training-free score); the
    search labels its outputs accordingly. ``identity()`` lists every option that changes the
    scores: a resumed search refuses an evaluator with another identity.
    """

    name: ClassVar[str]
    is_proxy: ClassVar[bool] = False

    @abstractmethod
    def identity(self) -> dict:
        """JSON-serialisable options that change the scores (name included)."""

    @abstractmethod
    def evaluate(self, arch: Arch) -> float:
        """The score of ``arch`` in [0, 1].

        Raises:
            LutnasError: the evaluator cannot score this arch (the message says why).
        """

    @property
    def label(self) -> str:
        return "zero-cost proxy score (not an accuracy)" if self.is_proxy else "proxy accuracy"


_BUILTIN = {
    "proxy-train": "search.evaluators.proxy_train:ProxyTrainEvaluator",
    "zero-cost": "search.evaluators.zero_cost:ZeroCostEvaluator",
    "callable": "search.evaluators.user:CallableEvaluator",
}
_REGISTERED: dict[str, type[AccuracyEvaluator]] = {}


def register_evaluator(name: str, cls: type[AccuracyEvaluator]) -> type[AccuracyEvaluator]:
    if name in _BUILTIN or name in _REGISTERED:
        raise LutnasError(f"an evaluator named {name!r} is already registered")
    _REGISTERED[name] = cls
    return cls


def list_evaluators() -> list[str]:
    return sorted({*_BUILTIN, *_REGISTERED})


def get_evaluator(name: str, **options: object) -> AccuracyEvaluator:
    """Build the evaluator registered as ``name`` with ``options``.

    Raises:
        LutnasError: unknown name, or an option the evaluator does not take.
    """
    if name in _REGISTERED:
        cls = _REGISTERED[name]
    elif name in _BUILTIN:
        module_name, _, cls_name = _BUILTIN[name].partition(":")
        cls = getattr(importlib.import_module(module_name), cls_name)
    else:
        raise LutnasError(
            f"unknown evaluator {name!r}; choose one of {', '.join(list_evaluators())}"
        )
    try:
        return cls(**options)
    except TypeError as exc:  # an unknown or missing keyword
        raise LutnasError(f"bad option for evaluator {name!r}: {exc}") from None
