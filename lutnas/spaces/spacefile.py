"""Space files: a search space written as TOML (read with the standard library's ``tomllib``;
the format is in ``docs/spaces.md``), the built-in spaces shipped as such files beside this
module (``builtin/*.toml``, package data), and :func:`load_space`, which takes a space file's
path or a known space's name, as ``--space`` does.

A space file is data: it is parsed, never executed, and every field is checked
(:mod:`lutnas.spaces.definition`); a bad one is one error naming the file, the field and what
is allowed.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path

from lutnas.errors import LutnasError
from lutnas.spaces.base import Space
from lutnas.spaces.definition import space_from_definition
from lutnas.spaces.registry import BUILTIN_SPACES, get_space, register_space

MAX_FILE_BYTES = 1 << 20  # a space file is a few KB; this refuses a wrong file quickly


def builtin_path(name: str) -> Path:
    """The shipped file of the built-in space ``name``."""
    if name not in BUILTIN_SPACES:
        raise LutnasError(f"{name!r} is not a built-in space ({', '.join(BUILTIN_SPACES)})")
    return Path(str(resources.files("lutnas.spaces").joinpath("builtin", f"{name}.toml")))


def is_space_path(text: str) -> bool:
    """Whether ``--space`` text is a file path (ends in ``.toml`` or has a directory part)
    rather than a space name (names have neither)."""
    return text.endswith(".toml") or "/" in text or os.sep in text


def read_space_file(path: str | Path) -> Space:
    """The space a TOML file defines, checked field by field; not registered.

    Raises:
        LutnasError: no such file, not TOML, or a field that is missing, unknown or
            inconsistent (``my.toml: stages[2].kernels[1]: must be odd ...``).
    """
    path = Path(path)
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise LutnasError(
            f"{path}: {what}; --space takes a space file (PATH.toml) or a space name "
            f"({', '.join(BUILTIN_SPACES)}, ...). docs/spaces.md describes the file"
        )
    if path.stat().st_size > MAX_FILE_BYTES:
        raise LutnasError(f"{path} is over {MAX_FILE_BYTES >> 10} KB: not a space file")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise LutnasError(f"{path} is not a text file (UTF-8): not a space file") from None
    except tomllib.TOMLDecodeError as exc:
        raise LutnasError(f"{path} is not valid TOML: {exc}") from None
    try:
        return space_from_definition(data)
    except LutnasError as exc:
        raise LutnasError(f"{path}: {exc}") from None


def load_space(space: str | Path | Space) -> Space:
    """The space ``space`` names: a space file's path (read and registered, so architectures
    of it can be built by name), a known space's name, or a :class:`Space` (registered).

    Raises:
        LutnasError: a bad file (see :func:`read_space_file`), an unknown name, or a space
            defined differently under a name already known (the field that differs is named).
    """
    if isinstance(space, Space):
        return register_space(space)
    text = str(space)
    if isinstance(space, Path) or is_space_path(text):
        return register_space(read_space_file(text), f"{text}")
    return get_space(text)
