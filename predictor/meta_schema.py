"""The predictor's ``meta.json`` record: its keys and the checks of every field
(:func:`validate_meta`). The format as a whole is described in :mod:`predictor.persistence`."""

from __future__ import annotations

from pathlib import Path

FORMAT = "lutnas-predictor"
SCHEMA_VERSION = 1
META_FILE = "meta.json"
POINT_FILE = "point.ubj"
QUANTILES_FILE = "quantiles.ubj"
ROWS_FILE = "lut_rows.json"
TRANSFERRED_FILE = "transferred_rows.json"  # keys of ROWS_FILE moved from another device
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


def layer_file(kind: str) -> str:
    return f"layers-{kind}.ubj"


def validate_meta(meta: object) -> list[str]:
    """Problems with a metadata record (empty when it follows the schema); each names the field
    and what it must be."""
    if not isinstance(meta, dict):
        return [f"the record must be a JSON object, got {type(meta).__name__}"]
    problems = [f"missing key {k!r}" for k in META_KEYS if k not in meta]
    if meta.get("format") != FORMAT:
        problems.append(f"format is {meta.get('format')!r}, not {FORMAT!r}")
    version = meta.get("schema_version")
    if "schema_version" in meta and not (is_int(version) and version >= 1):
        problems.append(f"schema_version must be a whole number from 1, got {version!r}")
    for section, keys in (("lut", LUT_KEYS), ("training", TRAINING_KEYS)):
        record = meta.get(section, {})
        if not isinstance(record, dict):
            problems.append(f"{section} must be an object, got {record!r}")
            continue
        problems += [f"{section}.{k} missing" for k in keys if k not in record]
    if not isinstance(meta.get("features"), list) or not meta.get("features"):
        problems.append("features must be a non-empty list of names")
    training = meta.get("training")
    if isinstance(training, dict) and "latency_range_ms" in training:
        rng = training["latency_range_ms"]
        ok = isinstance(rng, list) and len(rng) == 2 and all(_is_number(v) for v in rng)
        if not (ok and 0 < rng[0] <= rng[1] < float("inf")):
            problems.append(
                f"training.latency_range_ms must be [lowest, highest] in ms (two positive "
                f"numbers), got {rng!r}"
            )
    if "files" in meta:
        problems += _file_problems(meta)
    return problems


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _file_problems(meta: dict) -> list[str]:
    """``files`` maps plain file names to SHA-256 digests and lists every file the record uses."""
    files = meta["files"]
    if not isinstance(files, dict):
        return [f"files must map file names to SHA-256 digests, got {files!r}"]
    problems = [
        f"files: {name!r} is not a plain file name with a SHA-256 digest"
        for name, digest in files.items()
        if Path(name).name != name or name.startswith(".") or not isinstance(digest, str)
    ]
    wanted = [POINT_FILE, QUANTILES_FILE, ROWS_FILE]
    estimator = meta.get("layer_estimator")
    if estimator:
        kinds = estimator.get("kinds") if isinstance(estimator, dict) else None
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            problems.append(f"layer_estimator.kinds must be a list of op kinds, got {kinds!r}")
        else:
            wanted += [layer_file(k) for k in kinds]
    lut = meta.get("lut")
    if isinstance(lut, dict) and lut.get("transferred"):
        wanted.append(TRANSFERRED_FILE)
    problems += [f"files does not list {name}" for name in wanted if name not in files]
    return problems


def refit_hint(meta: object, path: str | Path) -> str:
    """``refit it: lutnas fit --lut LUT --out PATH`` with the recorded LUT where there is one."""
    lut = meta.get("lut") if isinstance(meta, dict) else None
    lut_path = lut.get("path") if isinstance(lut, dict) else None
    if not isinstance(lut_path, str):
        lut_path = "LUT"
    return f"refit it: lutnas fit --lut {lut_path} --out {path}"
