"""A predictor on disk: the directory layout, the ``meta.json`` record, writing and reading.

This module owns the format; nothing else writes or reads a predictor directory.

Layout (no pickle anywhere; every file is readable without lutnas)::

    host.predictor/
        meta.json            the record below
        point.ubj            XGBoost point model of log(latency / lut_sum)
        quantiles.ubj        XGBoost 5% / 95% quantile model (the interval)
        layers-<kind>.ubj    layer estimators, one per op kind (+ "pooled")
        lut_rows.json        {layer key: median ms}: the LUT snapshot predictions use
        transferred_rows.json  the keys of lut_rows.json transferred from another device's
                             LUT, not measured (only when there are some; lut.transferred)

``meta.json`` (checked by :func:`validate_meta`): format, schema_version, tool_version,
created_at, xgboost version, ``lut`` (path, backend_config, settings, device, rows),
``features`` (names, in order), ``training`` (measurements, spaces, resolutions, latency range,
params, rounds, cross-validated accuracy), ``interval`` (alphas, conformal widening), ``base``
(the linear base's terms and coefficients), ``ood`` (margin, feature ranges),
``layer_estimator`` and ``files`` (SHA-256 of each file).
The directory is written under a temporary name and renamed, so a crash never leaves half a
predictor behind. The format's two halves live beside this module: the record's keys and field
checks in :mod:`predictor.meta_schema`, the hashed directory in :mod:`predictor.predictor_dir`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

from lutnas import __version__
from lutnas.cli_util import quote
from lutnas.errors import LutnasError
from predictor import features as F
from predictor.layer_estimator import LayerEstimator
from predictor.meta_schema import (  # the record's names, importable from here too
    FORMAT,
    META_FILE,
    POINT_FILE,
    QUANTILES_FILE,
    ROWS_FILE,
    SCHEMA_VERSION,
    TRANSFERRED_FILE,
    layer_file,
    refit_hint,
    validate_meta,
)
from predictor.meta_values import row_problems
from predictor.model import ALPHAS, BASE_TERMS, OOD_MARGIN, Fitted
from predictor.predictor_dir import check_out, read_dir, write_dir

__all__ = [
    "FORMAT",
    "META_FILE",
    "SCHEMA_VERSION",
    "Stored",
    "check_features",
    "check_out",
    "load",
    "new_meta",
    "read_dir",
    "save",
    "validate_meta",
    "write_dir",
]


def new_meta(
    *, lut: dict, training: dict, fitted: Fitted, estimator: LayerEstimator | None
) -> dict:
    """The metadata record of a freshly fitted predictor (``files`` is added on saving).

    Args:
        lut: the ``lut`` record (path, backend_config, settings, device, rows, ...).
        training: what the fit saw (measurements, spaces, resolutions, latency range, seed);
            the model's params, rounds and cross-validated accuracy are added from ``fitted``.
        fitted: the correction model.
        estimator: the layer estimator, if any.
    """
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "xgboost": xgb.__version__,
        "lut": lut,
        "features": list(F.FEATURES),
        "model_features": list(F.MODEL_FEATURES),
        "training": {
            **training,
            "params": fitted.params,
            "rounds": fitted.rounds,
            "cv": fitted.cv,
        },
        "interval": {"alphas": list(ALPHAS), "conformal_q": fitted.conformal_q},
        "base": {"terms": list(BASE_TERMS), "coef": [float(c) for c in fitted.base_coef]},
        "ood": {"margin": OOD_MARGIN, "ranges": fitted.ranges},
        "layer_estimator": (estimator.to_raw()[0] if estimator else None),
    }


def save(
    path: str | Path,
    meta: dict,
    fitted: Fitted,
    lut_rows: dict[str, float],
    estimator: LayerEstimator | None,
    transferred: frozenset[str] = frozenset(),
) -> Path:
    """Write a predictor directory at ``path`` (see the module docstring and :func:`write_dir`)."""
    files = {
        POINT_FILE: bytes(fitted.point.save_raw("ubj")),
        QUANTILES_FILE: bytes(fitted.quantiles.save_raw("ubj")),
        ROWS_FILE: json.dumps(lut_rows, sort_keys=True).encode(),
    }
    if transferred:
        files[TRANSFERRED_FILE] = json.dumps(sorted(transferred)).encode()
    if estimator is not None:
        for kind, data in estimator.to_raw()[1].items():
            files[layer_file(kind)] = data
    return write_dir(path, meta, files)


@dataclass(frozen=True)
class Stored:
    """What a predictor directory holds, ready to predict with."""

    meta: dict
    fitted: Fitted
    estimator: LayerEstimator | None
    lut_rows: dict[str, float]
    transferred: frozenset[str] = frozenset()  # keys of lut_rows moved, not measured


def load(path: str | Path) -> Stored:
    """Read the predictor directory at ``path`` and rebuild its models.

    Raises:
        LutnasError: not a predictor, damaged files, or one this lutnas cannot use (written by
            an older version with other model inputs; the message names the refit command).
    """
    meta, files = read_dir(path)
    check_features(meta, path)

    def booster(name: str) -> xgb.Booster:
        b = xgb.Booster()
        try:
            b.load_model(bytearray(files[name]))
        except xgb.core.XGBoostError as exc:
            raise LutnasError(
                f"{Path(path) / name} is not a readable XGBoost model "
                f"({str(exc).strip().splitlines()[0][:200]}); {refit_hint(meta, path)}"
            ) from None
        if b.num_features() != len(F.MODEL_FEATURES):  # a hand-edited or mixed-up directory
            raise LutnasError(
                f"{path}/{name} takes {b.num_features()} features, this lutnas gives "
                f"{len(F.MODEL_FEATURES)}; {refit_hint(meta, path)}"
            )
        return b

    point, quantiles = booster(POINT_FILE), booster(QUANTILES_FILE)
    try:
        fitted = Fitted(
            point=point,
            quantiles=quantiles,
            conformal_q=float(meta["interval"]["conformal_q"]),
            params=meta["training"]["params"],
            rounds=meta["training"]["rounds"],
            cv=meta["training"]["cv"],
            ranges=meta["ood"]["ranges"],
            base_coef=np.array(meta["base"]["coef"], dtype=float),
        )
        lut_rows = _lut_rows(files[ROWS_FILE], meta, path)
        transferred = frozenset(
            str(k) for k in json.loads(files.get(TRANSFERRED_FILE, b"[]")) if k in lut_rows
        )
        estimator = None
        if meta.get("layer_estimator"):
            raw = {k: files[layer_file(k)] for k in meta["layer_estimator"]["kinds"]}
            estimator = LayerEstimator.from_raw(meta["layer_estimator"], raw)
    except (KeyError, TypeError, ValueError, AttributeError, xgb.core.XGBoostError) as exc:
        raise LutnasError(
            f"{path} has a damaged record or file ({type(exc).__name__}: "
            f"{str(exc).strip()[:200]}); {refit_hint(meta, path)}"
        ) from None
    return Stored(
        meta=meta, fitted=fitted, estimator=estimator, lut_rows=lut_rows, transferred=transferred
    )


def _lut_rows(data: bytes, meta: dict, path: str | Path) -> dict[str, float]:
    """The LUT snapshot, every row range-checked (see :func:`predictor.meta_values.row_problems`).

    Raises:
        LutnasError: not JSON, or a row that is not a positive number of ms.
    """
    try:
        rows = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise LutnasError(
            f"{Path(path) / ROWS_FILE} is not valid JSON ({type(exc).__name__}); "
            + refit_hint(meta, path)
        ) from None
    problems = row_problems(rows)
    if problems:
        raise LutnasError(
            f"{Path(path) / ROWS_FILE} (the LUT rows the predictor carries): {problems[0]}; "
            + refit_hint(meta, path)
        )
    return {str(k): float(v) for k, v in rows.items()}


def check_features(meta: dict, path: str | Path) -> None:
    """Refuse a predictor whose model inputs or linear base terms are not this version's.

    Predictors written before the trees saw only :data:`~predictor.features.MODEL_FEATURES`
    (lutnas versions without ``predictor.fast_trees``) have no ``model_features`` record; their
    trees index columns this version no longer gives them.

    Raises:
        LutnasError: naming the refit command.
    """
    if "model_features" not in meta:
        raise LutnasError(
            f"{path} was written by an older lutnas ({meta['tool_version']}, created "
            f"{meta['created_at']}) whose model takes other inputs; it must be refit with this "
            f"version: lutnas fit --lut {quote(meta['lut']['path'])} --out {quote(path)}"
        )
    if meta["features"] != list(F.FEATURES) or meta["model_features"] != list(F.MODEL_FEATURES):
        raise LutnasError(
            f"{path} was fitted with other features (lutnas {meta['tool_version']}); "
            + refit_hint(meta, path)
        )
    if meta["base"]["terms"] != list(BASE_TERMS):
        raise LutnasError(
            f"{path} has a linear base on {', '.join(meta['base']['terms'])}; this lutnas's "
            f"base is on {', '.join(BASE_TERMS)}; " + refit_hint(meta, path)
        )
