"""Checking an architecture record (the JSON form of :class:`~lutnas.spaces.arch.Arch`) field
by field.

Every message names the field, the accepted type and range, and the value given, e.g.
``resolution must be a whole number from 32 to 2048 (multiple of 8), got 224.7``.
"""

from __future__ import annotations

from lutnas.errors import LutnasError
from lutnas.spaces.base import MAX_RESOLUTION, MIN_RESOLUTION
from lutnas.spaces.blocks import BLOCK_FIELDS
from lutnas.spaces.registry import get_space

MAX_CHANNELS = 8192
MAX_LAYERS = 32  # repeats of one stage's layer
MAX_EXPANSION = 16
MAX_KERNEL = 15
BLOCK_OPS = ("conv", "dconv", "mbconv")
BLOCK_SKIPS = ("poolskip", "idskip", "noskip")
RECORD_HINT = "expected keys space, resolution, blocks (one record per stage)"


def whole_number(value: object, name: str, low: int, high: int, note: str = "") -> int:
    """``value`` as an int when it is a whole JSON number in ``[low, high]`` (``224.0`` is
    accepted, ``224.7``, ``"224"`` and ``true`` are not).

    Raises:
        LutnasError: ``{name} must be a whole number from {low} to {high}{note}, got ...``.
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and float(value).is_integer() and low <= value <= high
    if not ok:
        raise LutnasError(
            f"{name} must be a whole number from {low} to {high}{note}, got {value!r}"
        )
    return int(value)


def number(value: object, name: str, low: float, below: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not (ok and low <= value < below):
        raise LutnasError(f"{name} must be a number from {low} to below {below}, got {value!r}")
    return float(value)


def one_of(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise LutnasError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value  # type: ignore[return-value]


def check_resolution(value: object, name: str = "resolution") -> int:
    resolution = whole_number(value, name, MIN_RESOLUTION, MAX_RESOLUTION, " (multiple of 8)")
    if resolution % 8:
        raise LutnasError(
            f"{name} must be a whole number from {MIN_RESOLUTION} to {MAX_RESOLUTION} "
            f"(multiple of 8), got {value!r}"
        )
    return resolution


def check_block(data: object, name: str) -> dict:
    """The fields of one block record, checked; ``name`` prefixes messages (``blocks[2]``)."""
    check_fields(data, name, BLOCK_FIELDS)
    op = one_of(data["op"], f"{name}.op", BLOCK_OPS)
    expansion = whole_number(data["expansion"], f"{name}.expansion", 1, MAX_EXPANSION)
    if op != "mbconv" and expansion != 1:
        raise LutnasError(f"{name}.expansion must be 1 for op {op!r}, got {expansion}")
    kernel = whole_number(data["kernel"], f"{name}.kernel", 1, MAX_KERNEL, " (odd)")
    if kernel % 2 == 0:
        raise LutnasError(
            f"{name}.kernel must be a whole number from 1 to {MAX_KERNEL} (odd), got {kernel}"
        )
    return {
        "op": op,
        "expansion": expansion,
        "kernel": kernel,
        "se_ratio": number(data["se_ratio"], f"{name}.se_ratio", 0.0, 1.0),
        "skip": one_of(data["skip"], f"{name}.skip", BLOCK_SKIPS),
        "channels": whole_number(data["channels"], f"{name}.channels", 1, MAX_CHANNELS),
        "layers": whole_number(data["layers"], f"{name}.layers", 1, MAX_LAYERS),
    }


def check_fields(data: object, name: str, fields: tuple[str, ...]) -> dict:
    """``data`` when it is an object with exactly the keys ``fields`` (messages name ``name``)."""
    if not isinstance(data, dict):
        raise LutnasError(f"{name} must be an object with keys {', '.join(fields)}")
    missing = [k for k in fields if k not in data]
    extra = sorted(set(data) - set(fields))
    if missing or extra:
        raise LutnasError(
            f"{name}: "
            + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else [])
                + ([f"unknown key(s) {', '.join(extra)}"] if extra else [])
            )
            + f"; it has exactly {', '.join(fields)}"
        )
    return data


def check_record(data: object) -> tuple[str, int, tuple]:
    """``(space, resolution, blocks)`` of an architecture record, every field checked; the
    blocks are the space's (:meth:`~lutnas.spaces.base.Space.block_from_record`).

    Raises:
        LutnasError: the first field that is missing, of the wrong type or out of range.
    """
    if not isinstance(data, dict):
        raise LutnasError(f"not an architecture record (a {type(data).__name__}); {RECORD_HINT}")
    missing = [k for k in ("space", "resolution", "blocks") if k not in data]
    if missing:
        raise LutnasError(
            f"not an architecture record (missing {', '.join(missing)}); {RECORD_HINT}"
        )
    if not isinstance(data["space"], str):
        raise LutnasError(f"space must be a search space name, got {data['space']!r}")
    space = get_space(data["space"])  # unknown: LutnasError listing the spaces
    resolution = check_resolution(data["resolution"])
    blocks = data["blocks"]
    if not isinstance(blocks, list | tuple) or len(blocks) != len(space.stages):
        got = f"{len(blocks)} blocks" if isinstance(blocks, list | tuple) else repr(blocks)
        raise LutnasError(
            f"blocks must be a list of {len(space.stages)} blocks (one per stage of space "
            f"{space.name!r}), got {got}"
        )
    return (
        space.name,
        resolution,
        tuple(space.block_from_record(b, f"blocks[{i}]") for i, b in enumerate(blocks)),
    )
