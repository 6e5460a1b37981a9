"""One entry of the export cache: a model file and, beside it, the SHA-256 of its bytes.

A cached ONNX or ``.tflite`` file is used only when its bytes still hash to what was recorded
when it was written (:func:`verified`); a damaged entry (a flipped bit, a file truncated by a
full disk or a copy) is exported again with a warning instead of being timed as if it were the
layer. An entry is published hash last (:func:`publish`): a writer killed between the two
renames leaves a file without its hash, which is not trusted and is simply exported again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

from lutnas.atomicfile import sweep_stale, temp_path

log = logging.getLogger(__name__)

HASH_SUFFIX = ".sha256"
TEMP_TAG = "tmp"
# (path -> (size, mtime_ns)) of entries this process has hashed and found intact
_CHECKED: dict[Path, tuple[int, int]] = {}
_SWEPT: set[Path] = set()
_LOCK = threading.Lock()


def hash_path(path: Path) -> Path:
    return path.with_name(path.name + HASH_SUFFIX)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def verified(path: Path) -> bool:
    """Whether the entry at ``path`` exists and its bytes match their recorded hash (a file
    whose hash does not match is reported in a warning naming it: the caller writes it again)."""
    try:
        stamp = _stamp(path)
    except FileNotFoundError:
        return False
    with _LOCK:
        if _CHECKED.get(path) == stamp:
            return True
    try:
        recorded = hash_path(path).read_text().strip()
    except (FileNotFoundError, UnicodeDecodeError):
        recorded = None  # written by an older lutnas, or its writer died before the hash
    if recorded is not None and file_sha256(path) == recorded:
        with _LOCK:
            _CHECKED[path] = stamp
        return True
    if recorded is not None:
        log.warning(
            "the cached export %s does not match the hash recorded when it was written (the "
            "file was damaged); exporting it again",
            path,
        )
    return False


def temp_file(path: Path) -> Path:
    """A temporary name for writing the entry ``path`` (this process and thread)."""
    return temp_path(path, f"{TEMP_TAG}.{threading.get_ident()}", hidden=False)


def publish(tmp: Path, path: Path) -> None:
    """Move a completely written ``tmp`` to ``path``, its hash beside it (written last)."""
    digest = file_sha256(tmp)
    hash_tmp = temp_path(hash_path(path), f"{TEMP_TAG}.{threading.get_ident()}", hidden=False)
    try:
        hash_tmp.write_text(digest + "\n")
        os.replace(tmp, path)  # atomic: a crash never leaves a half-written cached file
        os.replace(hash_tmp, hash_path(path))
    finally:
        hash_tmp.unlink(missing_ok=True)
    try:
        with _LOCK:
            _CHECKED[path] = _stamp(path)
    except FileNotFoundError:  # replaced by another process meanwhile: checked when used
        pass


def sweep(cache_dir: Path) -> None:
    """Remove, once per process and directory, temporary files that killed exporters left."""
    with _LOCK:
        if cache_dir in _SWEPT:
            return
        _SWEPT.add(cache_dir)
    sweep_stale(cache_dir, "", (TEMP_TAG,))
