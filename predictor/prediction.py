"""Predicting from LUT sums: the :class:`Prediction` record, the vectorised latency of
architectures, and the detailed prediction of one network (interval, OOD flag, estimated share).

A prediction is ``lut_sum × exp(correction)``; the correction is the fitted model's
(:class:`~predictor.model.Fitted`), the sums are :class:`~predictor.sums.NetworkSums`'. Rows
missing from the LUT are estimated when the sums have an estimator and ``strict`` is off;
otherwise they are refused with an error listing them and advice on measuring them (``how``,
built only when the error is raised).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from predictor import features as F
from predictor.model import Fitted
from predictor.sums import NetworkSums

_SHOW_KEYS = 20  # missing keys listed in an error message


@dataclass(frozen=True)
class Prediction:
    """One network's predicted latency and how far to trust it (all times in ms).

    Attributes:
        latency_ms: the prediction.
        low_ms, high_ms: the nominal 90% interval (conformalised 5%/95% quantiles).
        lut_sum_ms: the plain sum of the network's LUT rows (estimated ones included).
        estimated_share: share of the LUT sum resting on estimated (unmeasured) rows.
        estimated_keys: the rows that were estimated.
        measured_keys: rows measured on demand for this prediction.
        out_of_distribution: True when the network lies outside the training networks.
        ood_reasons: which features lie outside, and their training ranges.
        layers: the network's layer keys, in order.
        calibration: for a predictor calibrated to another device, what it was calibrated
            from (see :mod:`predictor.calibrated`); empty otherwise.
        transferred_share: share of the LUT sum resting on rows transferred from another
            device's LUT (:mod:`lut.transferred`), not measured on this one.
        transferred_keys: the rows that were transferred.
    """

    latency_ms: float
    low_ms: float
    high_ms: float
    lut_sum_ms: float
    estimated_share: float
    estimated_keys: tuple[str, ...]
    measured_keys: tuple[str, ...]
    out_of_distribution: bool
    ood_reasons: tuple[str, ...]
    layers: tuple[str, ...]
    calibration: str = ""
    transferred_share: float = 0.0
    transferred_keys: tuple[str, ...] = ()

    def summary(self) -> str:
        lines = [
            f"{self.latency_ms:.3f} ms (90% interval {self.low_ms:.3f}-{self.high_ms:.3f}; "
            f"LUT sum {self.lut_sum_ms:.3f} ms over {len(self.layers)} layers)"
        ]
        if self.estimated_keys:
            lines.append(
                f"  {len(self.estimated_keys)} rows estimated, "
                f"{100 * self.estimated_share:.1f}% of the LUT sum"
            )
        if self.transferred_keys:
            lines.append(
                f"  {len(self.transferred_keys)} rows transferred from another device's LUT "
                f"(not measured), {100 * self.transferred_share:.1f}% of the LUT sum"
            )
        if self.measured_keys:
            lines.append(f"  {len(self.measured_keys)} rows measured on demand")
        if self.calibration:
            lines.append(f"  {self.calibration}")
        if self.out_of_distribution:
            lines.append(
                "  OUT OF DISTRIBUTION (the prediction extrapolates): "
                + "; ".join(self.ood_reasons[:6])
            )
        return "\n".join(lines)


class MissingRowsError(LutnasError):
    """Layers missing from the LUT that a strict prediction refuses. Its text speaks to Python
    callers (``strict=False``); a command words it for its users with :meth:`for_command`.

    Attributes:
        keys: the missing layer keys.
        what: the network they belong to (``"the network"``, ``"2 architecture(s)"``).
        how: advice on measuring them.
    """

    def __init__(self, keys: Sequence[str], what: str, how: str) -> None:
        self.keys, self.what, self.how = list(keys), what, how
        super().__init__(self._text("strict=True refuses", "pass strict=False"))

    def for_command(self, flag: str = "--strict") -> str:
        """The message for a command whose option ``flag`` asked for strictness."""
        return self._text(f"{flag} refuses", f"drop {flag}")

    def _text(self, refuses: str, instead: str) -> str:
        return (
            f"{len(self.keys)} layer(s) of {self.what} are not in the LUT and {refuses} to "
            f"estimate them: {shown_keys(self.keys)}. {self.how} Or {instead} to estimate them "
            "(the prediction then reports its estimated share)."
        )


def shown_keys(keys: Sequence[str]) -> str:
    """The first keys of a list, and how many there are in all."""
    return ", ".join(keys[:_SHOW_KEYS]) + (
        f", ... ({len(keys)} in all)" if len(keys) > _SHOW_KEYS else ""
    )


def missing_error(keys: Sequence[str], what: str, how: str) -> MissingRowsError:
    """The error refusing rows missing from the LUT: the keys (the first 20), ``how`` to
    measure them, and the non-strict alternative."""
    return MissingRowsError(keys, what, how)


def predict_archs(
    fitted: Fitted,
    sums: NetworkSums,
    archs: Sequence[Arch],
    *,
    strict: bool,
    how: Callable[[], str],
) -> np.ndarray:
    """Predicted latency (ms) of each architecture, in one vectorised model call.

    Raises:
        LutnasError: with ``strict`` (or without an estimator), when a layer is missing from
            the LUT; ``how()`` says how to measure the missing rows.
    """
    if not len(archs):
        return np.zeros(0)
    vecs, missing, n_bad = sums.of_archs(archs)
    if missing and (strict or sums.estimator is None):
        raise missing_error(missing, f"{n_bad} architecture(s)", how())
    x = F.network_features(vecs, np.fromiter((a.resolution for a in archs), float, len(archs)))
    return F.column(vecs, "lut_ms") * np.exp(fitted.predict_point(x))


def predict_specs(
    fitted: Fitted,
    sums: NetworkSums,
    specs: Sequence[LayerSpec],
    resolution: int,
    *,
    strict: bool,
    what: str,
    how: Callable[[], str],
    measured: tuple[str, ...] = (),
) -> Prediction:
    """The detailed prediction of a network given as its layers.

    Args:
        fitted, sums: the predictor's model and sums.
        specs: the network's layers, in order.
        resolution: its input height.
        strict: refuse missing rows instead of estimating them.
        what: names the network in an error (``"the network"``, ``"module X"``).
        how: advice on measuring missing rows, for the error.
        measured: rows measured on demand for this prediction (reported).

    Raises:
        LutnasError: a refused missing row (see :func:`predict_archs`).
    """
    (prediction,) = predict_networks(
        fitted, sums, [(specs, resolution)], strict=strict, what=what, how=how
    )
    return dataclasses.replace(prediction, measured_keys=measured) if measured else prediction


def predict_networks(
    fitted: Fitted,
    sums: NetworkSums,
    networks: Sequence[tuple[Sequence[LayerSpec], int]],
    *,
    strict: bool,
    what: str,
    how: Callable[[], str],
) -> list[Prediction]:
    """Detailed predictions of many networks (each its layers and input height) in one model
    call: the missing rows of all of them estimated together, then one call each of the point
    and interval models and one OOD check for every row.

    Raises:
        LutnasError: a refused missing row (``what`` names the networks of one of several).
    """
    if not networks:
        return []
    vecs, missing = sums.of_networks(networks)
    refused = list(dict.fromkeys(k for keys in missing for k in keys))
    if refused and (strict or sums.estimator is None):
        if len(networks) > 1:
            what = f"{sum(bool(m) for m in missing)} of the {len(networks)} networks"
        raise missing_error(refused, what, how())
    x = F.network_features(vecs, np.array([float(r) for _, r in networks]))
    log_point, log_low, log_high = fitted.predict_log_ratio(x)
    lut_ms = F.column(vecs, "lut_ms")
    est_ms = F.column(vecs, "est_ms")
    tr_ms = F.column(vecs, "tr_ms")
    latency, low, high = (lut_ms * np.exp(v) for v in (log_point, log_low, log_high))
    reasons = fitted.out_of_distribution(x)
    return [
        Prediction(
            latency_ms=float(latency[i]),
            low_ms=float(low[i]),
            high_ms=float(high[i]),
            lut_sum_ms=float(lut_ms[i]),
            estimated_share=float(est_ms[i] / lut_ms[i]) if lut_ms[i] else 0.0,
            estimated_keys=missing[i],
            measured_keys=(),
            out_of_distribution=bool(reasons[i]),
            ood_reasons=tuple(reasons[i]),
            layers=tuple(s.key for s in specs),
            transferred_share=float(tr_ms[i] / lut_ms[i]) if lut_ms[i] else 0.0,
            transferred_keys=tuple(
                dict.fromkeys(s.key for s in specs if s.key in sums.transferred)
            ),
        )
        for i, (specs, _) in enumerate(networks)
    ]
