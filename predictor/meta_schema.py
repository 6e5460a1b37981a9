"""The predictor's ``meta.json`` record: its keys and the checks of every field
(:func:`validate_meta`), the hash that seals it (:func:`seal`) and the names its files are
stored under (:func:`stored_name`). The format as a whole is described in
:mod:`predictor.persistence`.

Schema versions: 1 stored each file under its plain name (``point.ubj``) and did not seal the
record; 2 stores each under a name carrying its hash (``point.<16 hex>.ubj``, so a new version
is written beside the old one and the record swaps them) and seals the record.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lutnas.cli_util import quote

FORMAT = "lutnas-predictor"
SCHEMA_VERSION = 2
RECORD_HASH = "record_sha256"  # the seal: SHA-256 of the rest of the record
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


def stored_name(name: str, digest: str, schema_version: int) -> str:
    """The name file ``name`` with SHA-256 ``digest`` has in a predictor directory of this
    schema version: ``point.ubj`` (schema 1), ``point.1a2b3c4d5e6f7a8b.ubj`` (from schema 2)."""
    if schema_version < 2:
        return name
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest[:16]}.{suffix}" if dot else f"{name}.{digest[:16]}"


def record_hash(meta: dict) -> str:
    """SHA-256 of the record without its seal, in one canonical JSON form."""
    rest = {k: v for k, v in meta.items() if k != RECORD_HASH}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def seal(meta: dict) -> dict:
    """``meta`` (after a JSON round trip, as it will be read back) with its seal."""
    meta = json.loads(json.dumps({k: v for k, v in meta.items() if k != RECORD_HASH}))
    return {**meta, RECORD_HASH: record_hash(meta)}


def seal_problem(meta: dict) -> str | None:
    """Why the record's seal does not hold (None: it holds, or the schema predates seals)."""
    if not is_int(meta.get("schema_version")) or meta["schema_version"] < 2:
        return None
    if RECORD_HASH not in meta:
        return f"{RECORD_HASH} is missing (every record from schema 2 on is sealed)"
    if meta[RECORD_HASH] != record_hash(meta):
        return (
            f"the record does not match its {RECORD_HASH}: a value in meta.json was edited or "
            "damaged after lutnas wrote it"
        )
    return None


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
    if not problems:  # every key is there: now the values a prediction uses
        from predictor.meta_values import value_problems

        problems += value_problems(meta)
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
    lut_arg = quote(lut_path) if isinstance(lut_path, str) else "LUT"
    return f"refit it: lutnas fit --lut {lut_arg} --out {quote(path)}"
