"""Contract suites shared by every implementation of one interface (optuna's
``testing/pytest_samplers.py`` idea): a test module subclasses the suite and says which
implementation to run it on. Not collected by themselves (the classes do not start with
``Test``)."""

from contracts.backend import BackendContract
from contracts.evaluator import EvaluatorContract
from contracts.strategy import CHOICES, TARGET, StrategyContract, drive, toy_reward

__all__ = [
    "CHOICES",
    "TARGET",
    "BackendContract",
    "EvaluatorContract",
    "StrategyContract",
    "drive",
    "toy_reward",
]
