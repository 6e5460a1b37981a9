"""Accuracy evaluators for the search, by name: ``get_evaluator("proxy-train", epochs=3)``."""

from search.evaluators.base import (
    AccuracyEvaluator,
    get_evaluator,
    list_evaluators,
    register_evaluator,
)

__all__ = ["AccuracyEvaluator", "get_evaluator", "list_evaluators", "register_evaluator"]
