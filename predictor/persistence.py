"""A predictor on disk: the directory layout, the ``meta.json`` record, writing and reading.

This module owns the format; nothing else writes or reads a predictor directory.

Layout (no pickle anywhere; every file is readable without lutnas)::

    host.predictor/
        meta.json            the record below
        point.ubj            XGBoost point model of log(latency / lut_sum)
        quantiles.ubj        XGBoost 5% / 95% quantile model (the interval)
        layers-<kind>.ubj    layer estimators, one per op kind (+ "pooled")
        lut_rows.json        {layer key: median ms}: the LUT snapshot predictions use

``meta.json`` (checked by :func:`validate_meta`): format, schema_version, tool_version,
created_at, xgboost version, ``lut`` (path, backend_config, settings, device, rows),
``features`` (names, in order), ``training`` (measurements, spaces, resolutions, latency range,
params, rounds, cross-validated accuracy), ``interval`` (alphas, conformal widening), ``base``
(the linear base's terms and coefficients), ``ood`` (margin, feature ranges),
``layer_estimator`` and ``files`` (SHA-256 of each file).
The directory is written under a temporary name and renamed, so a crash never leaves half a
predictor behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

from lutnas import __version__
from lutnas.errors import LutnasError
from predictor import features as F
from predictor.layer_estimator import LayerEstimator
from predictor.model import ALPHAS, BASE_TERMS, OOD_MARGIN, Fitted

FORMAT = "lutnas-predictor"
SCHEMA_VERSION = 1
META_FILE = "meta.json"
POINT_FILE = "point.ubj"
QUANTILES_FILE = "quantiles.ubj"
ROWS_FILE = "lut_rows.json"
META_KEYS = (
    "format",
    "schema_version",
    "tool_version",
    "created_at",
    "xgboost",
    "lut",
    "features",
    "training",
    "interval",
    "base",
    "ood",
    "layer_estimator",
    "files",
)
LUT_KEYS = ("path", "backend_config", "settings", "device", "rows")
TRAINING_KEYS = (
    "measurements",
    "spaces",
    "resolutions",
    "latency_range_ms",
    "params",
    "rounds",
    "cv",
)


def validate_meta(meta: dict) -> list[str]:
    """Problems with a metadata record (empty when it follows the schema)."""
    problems = [f"missing key {k!r}" for k in META_KEYS if k not in meta]
    if meta.get("format") != FORMAT:
        problems.append(f"format is {meta.get('format')!r}, not {FORMAT!r}")
    problems += [f"lut.{k} missing" for k in LUT_KEYS if k not in meta.get("lut", {})]
    problems += [
        f"training.{k} missing" for k in TRAINING_KEYS if k not in meta.get("training", {})
    ]
    if not isinstance(meta.get("features"), list) or not meta.get("features"):
        problems.append("features must be a non-empty list of names")
    return problems


# --- the predictor's record and files ---------------------------------------------------------
def _layer_file(kind: str) -> str:
    return f"layers-{kind}.ubj"


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
) -> Path:
    """Write a predictor directory at ``path`` (see the module docstring and :func:`write_dir`)."""
    files = {
        POINT_FILE: bytes(fitted.point.save_raw("ubj")),
        QUANTILES_FILE: bytes(fitted.quantiles.save_raw("ubj")),
        ROWS_FILE: json.dumps(lut_rows, sort_keys=True).encode(),
    }
    if estimator is not None:
        for kind, data in estimator.to_raw()[1].items():
            files[_layer_file(kind)] = data
    return write_dir(path, meta, files)


@dataclass(frozen=True)
class Stored:
    """What a predictor directory holds, ready to predict with."""

    meta: dict
    fitted: Fitted
    estimator: LayerEstimator | None
    lut_rows: dict[str, float]


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
        b.load_model(bytearray(files[name]))
        if b.num_features() != len(F.MODEL_FEATURES):  # a hand-edited or mixed-up directory
            raise LutnasError(
                f"{path}/{name} takes {b.num_features()} features, this lutnas gives "
                f"{len(F.MODEL_FEATURES)}; {_refit(meta, path)}"
            )
        return b

    fitted = Fitted(
        point=booster(POINT_FILE),
        quantiles=booster(QUANTILES_FILE),
        conformal_q=float(meta["interval"]["conformal_q"]),
        params=meta["training"]["params"],
        rounds=meta["training"]["rounds"],
        cv=meta["training"]["cv"],
        ranges=meta["ood"]["ranges"],
        base_coef=np.array(meta["base"]["coef"], dtype=float),
    )
    estimator = None
    if meta.get("layer_estimator"):
        raw = {k: files[_layer_file(k)] for k in meta["layer_estimator"]["kinds"]}
        estimator = LayerEstimator.from_raw(meta["layer_estimator"], raw)
    return Stored(
        meta=meta, fitted=fitted, estimator=estimator, lut_rows=json.loads(files[ROWS_FILE])
    )


def _refit(meta: dict, path: str | Path) -> str:
    return f"refit it: lutnas fit --lut {meta['lut']['path']} --out {path}"


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
            f"version: lutnas fit --lut {meta['lut']['path']} --out {path}"
        )
    if meta["features"] != list(F.FEATURES) or meta["model_features"] != list(F.MODEL_FEATURES):
        raise LutnasError(
            f"{path} was fitted with other features (lutnas {meta['tool_version']}); "
            + _refit(meta, path)
        )
    if meta["base"]["terms"] != list(BASE_TERMS):
        raise LutnasError(
            f"{path} has a linear base on {', '.join(meta['base']['terms'])}; this lutnas's "
            f"base is on {', '.join(BASE_TERMS)}; " + _refit(meta, path)
        )


# --- the directory: hashed files, written under a temporary name ------------------------------
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_dir(path: str | Path, meta: dict, files: dict[str, bytes]) -> Path:
    """Write ``files`` and ``meta.json`` (with their hashes) into the directory ``path``.

    An existing predictor directory at ``path`` is replaced; anything else there is refused.
    """
    path = Path(path)
    if path.exists() and not (path / META_FILE).is_file():
        raise LutnasError(f"{path} exists and is not a predictor directory; choose another --out")
    meta = {**meta, "files": {name: _sha256(data) for name, data in sorted(files.items())}}
    problems = validate_meta(meta)
    if problems:
        raise AssertionError(f"predictor metadata breaks its schema: {problems}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    (tmp / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
    if path.exists():
        old = path.with_name(f".{path.name}.{os.getpid()}.old")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
    return path


def read_dir(path: str | Path) -> tuple[dict, dict[str, bytes]]:
    """Read a predictor directory; checks the schema and every file's hash.

    Raises:
        LutnasError: no predictor there, a newer schema, a broken record or a damaged file.
    """
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise LutnasError(
            f"no predictor at {path} (no meta.json); fit one with: "
            f"lutnas fit --lut LUT --out {path}"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise LutnasError(f"{meta_path} is not valid JSON ({exc}); refit the predictor") from None
    if meta.get("schema_version", 0) > SCHEMA_VERSION:
        raise LutnasError(
            f"{path} was written by a newer lutnas (schema "
            f"{meta['schema_version']}); upgrade lutnas to read it"
        )
    problems = validate_meta(meta)
    if problems:
        raise LutnasError(f"{path} is not a valid predictor: {'; '.join(problems)}")
    files = {}
    for name, digest in meta["files"].items():
        file = path / name
        if not file.is_file():
            raise LutnasError(f"{path} is incomplete: {name} is missing; refit the predictor")
        data = file.read_bytes()
        if _sha256(data) != digest:
            raise LutnasError(
                f"{file} does not match its recorded hash (damaged or edited); refit the predictor"
            )
        files[name] = data
    return meta, files
