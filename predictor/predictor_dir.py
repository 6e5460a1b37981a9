"""A predictor directory on disk: hashed files, written under a temporary name and renamed, so
a crash, a full disk or Ctrl-C never leaves half a predictor (or a temporary directory) behind.
Part of :mod:`predictor.persistence`, which owns the format."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from lutnas.errors import LutnasError
from predictor.meta_schema import META_FILE, SCHEMA_VERSION, is_int, refit_hint, validate_meta


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_out(path: str | Path) -> Path:
    """Make sure a predictor can be written at ``path`` (before spending time on a fit): its
    directory exists or is created and is writable, and anything at ``path`` is a predictor
    directory that :func:`write_dir` may replace.

    Raises:
        LutnasError: naming the path and what to do.
    """
    path = Path(path)
    if path.exists() and not (path / META_FILE).is_file():
        raise LutnasError(f"{path} exists and is not a predictor directory; choose another --out")
    probe = _tmp_name(path)
    shutil.rmtree(probe, ignore_errors=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        where = exc.filename or path.parent
        raise LutnasError(
            f"cannot write the predictor {path}: {exc.strerror} ({where}); choose another "
            "--out, or make that directory writable"
        ) from None
    return path


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_dir(path: str | Path, meta: dict, files: dict[str, bytes]) -> Path:
    """Write ``files`` and ``meta.json`` (with their hashes) into the directory ``path``.

    An existing predictor directory at ``path`` is replaced; anything else there is refused.
    The files are written into a temporary directory beside ``path``, which is removed whatever
    happens (disk full, no permission, Ctrl-C); a failure leaves an existing predictor intact.

    Raises:
        LutnasError: something other than a predictor directory is at ``path``.
        OSError: the storage failed (the CLI reports ENOSPC, EROFS, EACCES as an error line).
    """
    path = Path(path)
    if path.exists() and not (path / META_FILE).is_file():
        raise LutnasError(f"{path} exists and is not a predictor directory; choose another --out")
    meta = {**meta, "files": {name: _sha256(data) for name, data in sorted(files.items())}}
    problems = validate_meta(meta)
    if problems:
        raise AssertionError(f"predictor metadata breaks its schema: {problems}")
    tmp = _tmp_name(path)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
        _swap_in(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _swap_in(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``; an existing ``path`` is put back if that fails."""
    if not path.exists():
        os.replace(tmp, path)
        return
    old = path.with_name(f".{path.name}.{os.getpid()}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_dir(path: str | Path) -> tuple[dict, dict[str, bytes]]:
    """Read a predictor directory; checks the schema and every file's hash.

    Raises:
        LutnasError: no predictor there (a LUT file given instead is named as such), a newer
            schema, a broken record or a damaged or missing file; the message names the field
            or file and the ``lutnas fit`` command that writes a new predictor.
    """
    path = Path(path)
    if path.is_file():
        _refuse_file(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise LutnasError(
            f"no predictor at {path} (no meta.json); fit one with: "
            f"lutnas fit --lut LUT --out {path}"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LutnasError(
            f"{meta_path} is not valid JSON ({exc}); refit it: lutnas fit --lut LUT --out {path}"
        ) from None
    version = meta.get("schema_version") if isinstance(meta, dict) else None
    if is_int(version) and version > SCHEMA_VERSION:
        raise LutnasError(
            f"{path} was written by a newer lutnas (schema "
            f"{meta['schema_version']}); upgrade lutnas to read it"
        )
    problems = validate_meta(meta)
    if problems:
        raise LutnasError(
            f"{path} is not a valid predictor ({meta_path}: {'; '.join(problems)}); "
            + refit_hint(meta, path)
        )
    files = {}
    for name, digest in meta["files"].items():
        file = path / name
        if not file.is_file():
            raise LutnasError(
                f"{path} is incomplete: {name} (listed in meta.json files) is missing; "
                + refit_hint(meta, path)
            )
        data = file.read_bytes()
        if _sha256(data) != digest:
            raise LutnasError(
                f"{file} does not match its recorded hash (damaged or edited); "
                + refit_hint(meta, path)
            )
        files[name] = data
    return meta, files


def _refuse_file(path: Path) -> None:
    """A file where a predictor directory belongs: say what it is and what to run."""
    with open(path, "rb") as f:
        is_sqlite = f.read(16) == b"SQLite format 3\x00"
    out = path.with_suffix(".predictor")
    if is_sqlite:
        raise LutnasError(
            f"{path} is a LUT file, not a predictor directory; make one with: "
            f"lutnas fit --lut {path} --out {out}"
        )
    raise LutnasError(
        f"{path} is a file, not a predictor directory; give the directory lutnas fit wrote "
        f"(lutnas fit --lut LUT --out {out})"
    )
