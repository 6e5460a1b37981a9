"""Moving a LUT to a new device from a sample of its layers: which layers to time
(:mod:`~predictor.transfer.sample`), the source → target map fitted on them
(:mod:`~predictor.transfer.layer_map`), and the rows it moves into the target LUT
(:mod:`~predictor.transfer.rows`, stored apart from measurements by :mod:`lut.transferred`)."""

from predictor.transfer.layer_map import LayerMap
from predictor.transfer.rows import TransferPlan, plan_transfer
from predictor.transfer.sample import random_sample, sample_order

__all__ = ["LayerMap", "TransferPlan", "plan_transfer", "random_sample", "sample_order"]
