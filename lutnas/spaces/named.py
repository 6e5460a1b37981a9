"""Published networks written as ``Arch``es of lutnas's spaces, provided by name. Each space file
gives its own (its ``[archs]`` table); they are known once their space is (the built-in spaces'
always)."""

from __future__ import annotations

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.base import NamedArchDef, Space
from lutnas.spaces.registry import get_space, load_builtins

_NAMED: dict[str, tuple[str, NamedArchDef]] = {}  # arch name -> (space name, definition)
_BUILT: dict[str, Arch] = {}


def add_archs(space: Space) -> None:
    """Make the named architectures of ``space`` known (called as the space registers).

    Raises:
        LutnasError: a name is taken by an architecture of another space.
    """
    for arch in space.archs:
        taken = _NAMED.get(arch.name)
        if taken and taken[0] != space.name:
            raise LutnasError(
                f"architecture name {arch.name!r} of space {space.name!r} is taken by space "
                f"{taken[0]!r}; rename it in the space file's [archs] table"
            )
    for arch in space.archs:
        _NAMED[arch.name] = (space.name, arch)
        _BUILT.pop(arch.name, None)


def list_named_archs() -> list[str]:
    load_builtins()
    return sorted(_NAMED)


def get_named_arch(name: str) -> Arch:
    """The architecture named ``name`` by a known space's file.

    Raises:
        LutnasError: no known space names it (the message lists the names).
    """
    if name not in _NAMED:
        load_builtins()
    if name not in _NAMED:
        raise LutnasError(
            f"unknown architecture {name!r}; named ones are "
            f"{', '.join(list_named_archs())} (and those of a space file loaded with --space), "
            "or pass a JSON file"
        )
    if name not in _BUILT:
        space_name, arch = _NAMED[name]
        space = get_space(space_name)
        blocks = tuple(space.block_from_label(label) for label in arch.labels)
        _BUILT[name] = Arch(space=space_name, resolution=arch.resolution, blocks=blocks)
    return _BUILT[name]


def forget(spaces: set[str]) -> None:
    """Forget the named architectures of ``spaces``."""
    for name in [n for n, (space, _) in _NAMED.items() if space in spaces]:
        del _NAMED[name]
        _BUILT.pop(name, None)


def snapshot() -> tuple[dict, dict]:
    return dict(_NAMED), dict(_BUILT)


def restore(state: tuple[dict, dict]) -> None:
    _NAMED.clear()
    _NAMED.update(state[0])
    _BUILT.clear()
    _BUILT.update(state[1])
