"""The spaces this process knows, by name: the built-in ones (shipped files, read on first use)
and every space loaded since, from a file (:func:`lutnas.spaces.spacefile.load_space`), from a
LUT's or a predictor's stored definition (:mod:`lutnas.spaces.stored`), or from Python.

A name means one space: registering a name again with the same definition returns the space
already known; with another definition it is an error naming the first field that differs and
where each definition came from. Named architectures of each space register with it
(:mod:`lutnas.spaces.named`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from lutnas.errors import LutnasError
from lutnas.jsondiff import describe_difference
from lutnas.registry import Registry

if TYPE_CHECKING:
    from lutnas.spaces.base import Space

BUILTIN_SPACES = ("mnasnet", "mobilenetv3", "mobilenetv3-small", "proxylessnas")
BUILTIN_SOURCE = "the built-in space file"

_SPACES: Registry[Space] = Registry("search space")
_SOURCES: dict[str, str] = {}  # name -> where its definition came from (for messages)


def identity(definition: dict) -> dict:
    """The part of a definition that says which networks a space holds and how they expand:
    everything but its named architectures."""
    return {k: v for k, v in definition.items() if k != "archs"}


def definition_digest(space: Space) -> str:
    """16 hex digits of the SHA-256 of the space's identity (its definition without named
    architectures), in canonical JSON."""
    text = json.dumps(identity(space.definition()), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def register_space(space: Space, source: str = "Python") -> Space:
    """Make ``space`` known under its name; ``source`` says where it came from (a file path,
    ``LUT host.lut``) for messages. Returns the space known under that name afterwards: the
    one already registered when its definition is the same.

    Raises:
        LutnasError: the name is taken by a space defined differently (the first differing
            field and both sources are named), or a named architecture's name is taken.
    """
    name = space.name
    if name in BUILTIN_SPACES and name not in _SPACES and source != BUILTIN_SOURCE:
        _load_builtin(name)
    if name in _SPACES:
        known = _SPACES.lookup(name)
        diff = describe_difference(
            identity(known.definition()),
            identity(space.definition()),
            f"{_SOURCES[name]} has",
            source,
        )
        if diff is None:
            from lutnas.spaces.named import add_archs

            add_archs(space)  # the same space: its file may name more architectures
            return known
        raise LutnasError(
            f"space {name!r} from {source} is not the space {name!r} of {_SOURCES[name]} "
            f"({diff}); a changed space needs a new name, since LUT rows, predictors and "
            "searches of the old one do not hold for it"
        )
    from lutnas.spaces.named import add_archs

    add_archs(space)  # refuses a taken architecture name before anything is registered
    _SPACES.register(name, space)
    _SOURCES[name] = source
    return space


def _load_builtin(name: str) -> None:
    from lutnas.spaces.spacefile import builtin_path, read_space_file

    register_space(read_space_file(builtin_path(name)), BUILTIN_SOURCE)


def load_builtins() -> None:
    """Read every built-in space file not read yet (their named architectures with them)."""
    for name in BUILTIN_SPACES:
        if name not in _SPACES:
            _load_builtin(name)


def list_spaces() -> list[str]:
    """Every known space name: the built-in ones and those loaded since."""
    return sorted({*BUILTIN_SPACES, *_SPACES.list()})


def source_of(name: str) -> str:
    """Where the definition of the known space ``name`` came from."""
    get_space(name)
    return _SOURCES[name]


def is_builtin(space: Space) -> bool:
    """Whether ``space`` is a built-in space (known in every process without its file)."""
    return space.name in BUILTIN_SPACES and _SOURCES.get(space.name) == BUILTIN_SOURCE


def get_space(name: str) -> Space:
    """The space known as ``name`` (a built-in one is read from its file on first use).

    Raises:
        LutnasError: unknown name (the message lists the spaces and says how to load a file).
    """
    if name not in _SPACES:
        if name in BUILTIN_SPACES:
            _load_builtin(name)
        else:
            raise LutnasError(
                f"unknown search space {name!r}; choose one of "
                f"{', '.join(list_spaces())}, or give a space file (--space PATH.toml; in "
                "Python lutnas.spaces.load_space('PATH.toml'))"
            )
    return _SPACES.lookup(name)


@contextlib.contextmanager
def isolated_spaces(fresh: bool = False) -> Iterator[None]:
    """Spaces registered inside the block are forgotten after it (for tests: one process may
    then load two definitions under one name, one at a time); ``fresh``: inside the block only
    the built-in spaces are known, as in a new process."""
    from lutnas.spaces import named

    spaces, sources, archs = _SPACES.copy(), dict(_SOURCES), named.snapshot()
    if fresh:
        for name in [n for n, source in sources.items() if source != BUILTIN_SOURCE]:
            del _SPACES._entries[name], _SOURCES[name]
        named.forget(set(sources) - set(_SOURCES))
    try:
        yield
    finally:
        _SPACES._entries = spaces._entries
        _SOURCES.clear()
        _SOURCES.update(sources)
        named.restore(archs)
