"""A predictor on disk: a directory of XGBoost UBJ models, the LUT rows it used, and metadata.

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

import hashlib
import json
import os
import shutil
from pathlib import Path

from lutnas.errors import LutnasError

FORMAT = "lutnas-predictor"
SCHEMA_VERSION = 1
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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_dir(path: str | Path, meta: dict, files: dict[str, bytes]) -> Path:
    """Write ``files`` and ``meta.json`` (with their hashes) into the directory ``path``.

    An existing predictor directory at ``path`` is replaced; anything else there is refused.
    """
    path = Path(path)
    if path.exists() and not (path / "meta.json").is_file():
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
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
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
    meta_path = path / "meta.json"
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
