"""A LUT and a predictor know their spaces: the full definition of every space whose whole
models a LUT holds (its ``spaces`` metadata) or a predictor was fitted on (its
``training.space_definitions``) is stored with them, so a file received from someone else is
used without the space file, and a space changed under the same name is refused where it
would mix numbers: on resume, on merge, on fit, on loading a predictor for a search.

    record_in_lut(store, [space])     # profiling: store the definition, or refuse a changed one
    adopt_lut_spaces(store)           # reading: make the LUT's spaces known in this process
    adopt_definitions(defs, "predictor host.predictor")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from lut.schema import SPACES_META_KEY
from lutnas.errors import LutnasError
from lutnas.jsondiff import describe_difference
from lutnas.spaces.base import Space
from lutnas.spaces.definition import space_from_definition
from lutnas.spaces.registry import get_space, identity, register_space, source_of

if TYPE_CHECKING:
    from lut.store import LutStore

LUT_META_KEY = SPACES_META_KEY


def definitions_of(names: Iterable[str]) -> dict[str, dict]:
    """``{name: definition}`` of the known spaces ``names``."""
    return {name: get_space(name).definition() for name in sorted(set(names))}


def record_in_lut(store: LutStore, spaces: Iterable[Space]) -> None:
    """Store the definition of each of ``spaces`` in ``store``'s metadata (once per name).

    Raises:
        LutnasError: ``store`` holds a space of the same name defined differently (the first
            differing field is named); nothing is written then.
    """
    stored = dict(store.meta.get(LUT_META_KEY) or {})
    added = False
    for space in spaces:
        definition = space.definition()
        have = stored.get(space.name)
        if have is None:
            stored[space.name] = definition
            added = True
            continue
        diff = describe_difference(
            identity(have), identity(definition), f"{store.path} has", source_of(space.name)
        )
        if diff:
            raise LutnasError(
                f"{store.path} holds measurements of space {space.name!r} as it was defined "
                f"then, and the space {space.name!r} given now differs ({diff}); resuming would "
                "mix two spaces under one name. Profile into another --out, or give the changed "
                "space a new name (its name field)"
            )
    if added:
        store.set_meta(LUT_META_KEY, stored)


def adopt_definitions(definitions: object, where: str) -> list[Space]:
    """Register every space of ``definitions`` (``{name: definition}``, as stored) as coming
    from ``where``; returns them.

    Raises:
        LutnasError: a stored definition is damaged, or a space known here under that name is
            defined differently (the first differing field is named).
    """
    if not definitions:
        return []
    if not isinstance(definitions, dict):
        raise LutnasError(f"the space definitions stored in {where} are damaged (not a table)")
    out = []
    for name, definition in sorted(definitions.items()):
        try:
            space = space_from_definition(definition)
        except LutnasError as exc:
            raise LutnasError(
                f"the definition of space {name!r} stored in {where} is damaged: {exc}"
            ) from None
        out.append(register_space(space, where))
    return out


def adopt_lut_spaces(store: LutStore) -> list[Space]:
    """Make the spaces ``store`` holds whole models of known in this process (see
    :func:`adopt_definitions`)."""
    return adopt_definitions(store.meta.get(LUT_META_KEY), f"LUT {store.path}")
