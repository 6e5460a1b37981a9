"""The latency predictor: XGBoost on LUT features, corrected to whole-model measurements.

Public API (see :mod:`predictor.api`)::

    from predictor import LatencyPredictor, Prediction, decompose_module
"""

from predictor.api import LatencyPredictor, Prediction
from predictor.decompose import Decomposition, decompose_module

__all__ = ["Decomposition", "LatencyPredictor", "Prediction", "decompose_module"]
