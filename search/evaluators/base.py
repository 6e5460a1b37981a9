"""What an accuracy evaluator promises, and the registry of them.

The search calls ``evaluate(arch)`` once per distinct architecture (results are cached by arch
key in the search's record), possibly in another process or on a Ray worker, so an evaluator
must be picklable between *our own* processes and deterministic for a given arch and options.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from lutnas.errors import LutnasError
from lutnas.numbers import whole
from lutnas.registry import Registry
from lutnas.spaces.arch import Arch


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

    def seconds_per_candidate(self, archs: Sequence[Arch]) -> tuple[float, float] | None:
        """(lowest, highest) seconds one evaluation of networks like ``archs`` is expected to
        take on this machine now, measured quickly, for announcing long work before it
        starts; None when an evaluation is quick or its cost unknown (the default)."""
        return None

    @property
    def label(self) -> str:
        return "zero-cost proxy score (not an accuracy)" if self.is_proxy else "proxy accuracy"


MAX_BATCH = 65_536  # images per batch of a built-in evaluator, at most


def proxy_resolution(value: object) -> int:
    """The resolution a built-in evaluator builds networks at: a multiple of 8 from 32 to 512.

    Raises:
        LutnasError: naming the option and the range.
    """
    try:
        resolution = whole(value, "resolution", 32, 512)
    except LutnasError:
        resolution = 1  # not a multiple of 8 either: one message
    if resolution % 8:
        raise LutnasError(f"resolution must be a multiple of 8 from 32 to 512, got {value!r}")
    return resolution


def dataset_name(value: object) -> str:
    """A dataset option (``digits``, ``folder:PATH``, ``cifar10:PATH``; checked when loaded).

    Raises:
        LutnasError: not text.
    """
    if not isinstance(value, str) or not value:
        raise LutnasError(f"dataset must be a name such as digits, got {value!r}")
    return value


_EVALUATORS: Registry[type[AccuracyEvaluator]] = Registry(
    "evaluator",
    builtins={
        "proxy-train": "search.evaluators.proxy_train:ProxyTrainEvaluator",
        "zero-cost": "search.evaluators.zero_cost:ZeroCostEvaluator",
        "callable": "search.evaluators.user:CallableEvaluator",
    },
)


def register_evaluator(name: str, cls: type[AccuracyEvaluator]) -> type[AccuracyEvaluator]:
    """Register an evaluator class under ``name``; a taken name is an error."""
    return _EVALUATORS.register(name, cls)


def list_evaluators() -> list[str]:
    return _EVALUATORS.list()


def get_evaluator(name: str, **options: object) -> AccuracyEvaluator:
    """Build the evaluator registered as ``name`` with ``options``.

    Raises:
        LutnasError: unknown name, or an option the evaluator does not take.
    """
    return _EVALUATORS.get(name, **options)
