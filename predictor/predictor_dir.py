"""A predictor directory on disk, replaced so that every reader sees a whole old or a whole new
predictor, whatever happens to the writer (a kill -9, a full disk, Ctrl-C) and however many
write it at once. Part of :mod:`predictor.persistence`, which owns the format.

How (schema 2, :mod:`predictor.meta_schema`): every file is stored under a name carrying its
hash (``point.1a2b3c4d5e6f7a8b.ubj``) and ``meta.json`` names them with their SHA-256, so the
record is the pointer to one complete version:

- a writer takes ``.NAME.lock`` beside the directory (one writer at a time; a second waits),
  writes the new version's files beside the old ones, then replaces ``meta.json`` in one
  atomic rename, then removes the files no record names any more. A first write builds the
  whole directory under a temporary name and renames it into place;
- a reader takes no lock: it reads ``meta.json``, then the files it names, checking each hash;
  when a file has gone or changed because a writer replaced the record meanwhile, it reads the
  new record and starts again.

A kill at any point leaves the old record (and its files) or the new one; what it leaves over
(files of an unfinished version, temporary files) is removed by the next write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from lutnas.atomicfile import is_stale, pid_is_running, sync_directory, write_bytes
from lutnas.cli_util import quote
from lutnas.errors import LutnasError
from lutnas.filelock import WriterLock, lock_path
from predictor.meta_schema import (
    META_FILE,
    SCHEMA_VERSION,
    is_int,
    refit_hint,
    seal,
    seal_problem,
    stored_name,
    validate_meta,
)

LOCK_WAIT_S = 120.0  # how long a writer waits for another one to finish writing
READ_ATTEMPTS = 20  # a reader starts again at most this often while writers replace the record
_STORED = re.compile(r"[\w.-]+\.[0-9a-f]{16}\.(ubj|json)")  # a schema-2 file name
_LEFT_BESIDE = r"\.{name}\.(\d+)\.(tmp|old)"  # whole directories left by lutnas before schema 2


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for directory in (path.parent, path) if path.exists() else (path.parent,):
            probe = directory / f".{path.name}.{os.getpid()}.probe"
            probe.mkdir()
            probe.rmdir()
    except OSError as exc:
        where = exc.filename or path.parent
        raise LutnasError(
            f"cannot write the predictor {path}: {exc.strerror} ({where}); choose another "
            "--out, or make that directory writable"
        ) from None
    return path


def write_dir(path: str | Path, meta: dict, files: dict[str, bytes]) -> Path:
    """Write ``files`` and ``meta.json`` (sealed, with their hashes) as the predictor at
    ``path``, replacing the one there (see the module docstring).

    Raises:
        LutnasError: something other than a predictor directory is at ``path``, or another
            process kept writing it for longer than :data:`LOCK_WAIT_S`.
        OSError: the storage failed (the CLI reports ENOSPC, EROFS, EACCES as an error line);
            a predictor that was at ``path`` is left whole.
    """
    path = Path(path)
    digests = {name: _sha256(data) for name, data in sorted(files.items())}
    meta = seal({**meta, "schema_version": SCHEMA_VERSION, "files": digests})
    problems = validate_meta(meta)
    if problems:
        raise AssertionError(f"predictor metadata breaks its schema: {problems}")
    stored = {stored_name(n, d, SCHEMA_VERSION): files[n] for n, d in digests.items()}
    record = json.dumps(meta, indent=1, sort_keys=True).encode()
    with _writer_lock(path):
        if path.exists() and not (path / META_FILE).is_file():
            raise LutnasError(
                f"{path} exists and is not a predictor directory; choose another --out"
            )
        if path.exists():
            _replace_in_place(path, stored, record)
        else:
            _create(path, stored, record)
        _remove_left_beside(path)
    return path


@contextlib.contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside the directory, waiting while another writer holds it."""
    lock = WriterLock(
        path.with_name(f".{path.name}"), "it is replaced by another lutnas; try again after it"
    )
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            lock.acquire()
            break
        except LutnasError:
            # held by another writer, unless its directory cannot hold a lock file at all (the
            # holder removes the file on release, so test the directory, not the file)
            busy = os.access(lock_path(lock.path).parent, os.W_OK | os.X_OK)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield
    finally:
        lock.release()


def _create(path: Path, stored: dict[str, bytes], record: bytes) -> None:
    """A first write: the whole directory under a temporary name, renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        for name, data in stored.items():
            _write_synced(tmp / name, data)
        _write_synced(tmp / META_FILE, record)
        sync_directory(tmp)
        os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sync_directory(path.parent)


def _write_synced(file: Path, data: bytes) -> None:
    with open(file, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _replace_in_place(path: Path, stored: dict[str, bytes], record: bytes) -> None:
    """New files beside the old ones, then the record (one atomic rename), then clean-up."""
    for name, data in stored.items():
        file = path / name
        if not (file.is_file() and file.read_bytes() == data):
            write_bytes(file, data)
    write_bytes(path / META_FILE, record)
    keep = {META_FILE, *stored}
    for name in os.listdir(path):
        if name not in keep and _is_ours(path / name):
            with contextlib.suppress(OSError):
                os.unlink(path / name)


def _is_ours(file: Path) -> bool:
    """A file lutnas put in a predictor directory and no record names once the new one is in:
    a stored file of another version, a plain schema-1 file, or a killed writer's temporary."""
    name = file.name
    if _STORED.fullmatch(name):
        return True
    if name.startswith("layers-") and name.endswith(".ubj"):
        return True
    if name in ("point.ubj", "quantiles.ubj", "lut_rows.json"):
        return True
    return name.startswith(".") and is_stale(file)


def _remove_left_beside(path: Path) -> None:
    """Whole copies an interrupted lutnas before schema 2 left beside ``path`` (``.NAME.PID.tmp``
    and ``.NAME.PID.old``), once a new predictor is in place."""
    pattern = re.compile(_LEFT_BESIDE.format(name=re.escape(path.name)))
    for other in _left_beside(path, pattern):
        shutil.rmtree(other, ignore_errors=True)


def _left_beside(path: Path, pattern: re.Pattern | None = None) -> list[Path]:
    """Directories left beside ``path`` by killed writers, newest first."""
    pattern = pattern or re.compile(_LEFT_BESIDE.format(name=re.escape(path.name)))
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    found = []
    for name in names:
        match = pattern.fullmatch(name)
        other = path.parent / name
        if match and other.is_dir() and not pid_is_running(int(match[1])):
            found.append(other)
    return sorted(found, key=_age, reverse=True)


def _age(directory: Path) -> float:
    try:
        return (directory / META_FILE).stat().st_mtime
    except OSError:
        return 0.0


def read_dir(path: str | Path) -> tuple[dict, dict[str, bytes]]:
    """Read a predictor directory: its record (schema and seal checked) and every file it
    names, each checked against its hash (see the module docstring for concurrent writers).

    Returns:
        The record and ``{file name in the record: bytes}``.

    Raises:
        LutnasError: no predictor there (a LUT file given instead is named as such), a newer
            schema, a broken or edited record, or a damaged or missing file; the message names
            the field or file and the ``lutnas fit`` command that writes a new predictor.
    """
    path = Path(path)
    if path.is_file():
        _refuse_file(path)
    for _ in range(READ_ATTEMPTS):
        raw = _read_record(path)
        meta = _parse_record(raw, path)
        try:
            return meta, _read_files(path, meta)
        except LutnasError:
            if _record_bytes(path) == raw:  # nobody replaced the record: the files are bad
                raise
    raise LutnasError(
        f"{path} was replaced {READ_ATTEMPTS} times while it was being read; try again when "
        "whatever keeps writing it has finished"
    )


def _record_bytes(path: Path) -> bytes | None:
    try:
        return (path / META_FILE).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _read_record(path: Path) -> bytes:
    raw = _record_bytes(path)
    if raw is not None:
        return raw
    left = [d for d in _left_beside(path) if (d / META_FILE).is_file()]
    if not path.exists() and left:
        raise LutnasError(
            f"no predictor at {path}, but an interrupted lutnas fit of an older version left "
            f"{len(left)} copies beside it ({', '.join(d.name for d in left)}); put the newest "
            f"back with: mv {quote(left[0])} {quote(path)}"
        )
    raise LutnasError(
        f"no predictor at {path} (no meta.json); fit one with: "
        f"lutnas fit --lut LUT --out {quote(path)}"
    )


def _parse_record(raw: bytes, path: Path) -> dict:
    meta_path = path / META_FILE
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LutnasError(
            f"{meta_path} is not valid JSON ({exc}); refit it: "
            f"lutnas fit --lut LUT --out {quote(path)}"
        ) from None
    except RecursionError:
        raise LutnasError(
            f"{meta_path} is nested too deeply to be a predictor record; refit it: "
            f"lutnas fit --lut LUT --out {quote(path)}"
        ) from None
    version = meta.get("schema_version") if isinstance(meta, dict) else None
    if is_int(version) and version > SCHEMA_VERSION:
        raise LutnasError(
            f"{path} was written by a newer lutnas (schema "
            f"{meta['schema_version']}); upgrade lutnas to read it"
        )
    problems = validate_meta(meta)
    seal_note = seal_problem(meta) if not problems else None
    if seal_note:
        problems = [seal_note]
    if problems:
        raise LutnasError(
            f"{path} is not a valid predictor ({meta_path}: {'; '.join(problems)}); "
            + refit_hint(meta, path)
        )
    return meta


def _read_files(path: Path, meta: dict) -> dict[str, bytes]:
    files = {}
    for name, digest in meta["files"].items():
        file = path / stored_name(name, digest, meta["schema_version"])
        try:
            data = file.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise LutnasError(
                f"{path} is incomplete: {file.name} (listed in meta.json files) is missing; "
                + refit_hint(meta, path)
            ) from None
        if _sha256(data) != digest:
            raise LutnasError(
                f"{file} does not match its recorded hash (damaged or edited); "
                + refit_hint(meta, path)
            )
        files[name] = data
    return files


def _refuse_file(path: Path) -> None:
    """A file where a predictor directory belongs: say what it is and what to run."""
    with open(path, "rb") as f:
        is_sqlite = f.read(16) == b"SQLite format 3\x00"
    out = path.with_suffix(".predictor")
    if is_sqlite:
        raise LutnasError(
            f"{path} is a LUT file, not a predictor directory; make one with: "
            f"lutnas fit --lut {quote(path)} --out {quote(out)}"
        )
    raise LutnasError(
        f"{path} is a file, not a predictor directory; give the directory lutnas fit wrote "
        f"(lutnas fit --lut LUT --out {quote(out)})"
    )
