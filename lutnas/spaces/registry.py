"""The registry of search spaces by name (the MnasNet and MobileNetV3 spaces register on import
of :mod:`spaces`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lutnas.registry import Registry

if TYPE_CHECKING:
    from lutnas.spaces.space import Space

_SPACES: Registry[Space] = Registry("search space")


def register_space(space: Space) -> Space:
    """Add a space to the registry under its name; a taken name is an error."""
    return _SPACES.register(space.name, space)


def list_spaces() -> list[str]:
    return _SPACES.list()


def get_space(name: str) -> Space:
    """The space registered as ``name``.

    Raises:
        LutnasError: unknown name (the message lists the spaces).
    """
    return _SPACES.lookup(name)
