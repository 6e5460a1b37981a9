"""Reading the fields of a space definition one by one, each check naming where the field is
(``stages[2].kernels``), what was given and what is allowed. A :class:`Table` is one TOML table
(or JSON object) being read; a key it does not know is an error listing the keys it has, so a
typo never passes silently."""

from __future__ import annotations

import re
from collections.abc import Callable

from lut.spec import ACTS, SKIPS
from lutnas.errors import LutnasError
from lutnas.spaces.arch_record import MAX_CHANNELS, MAX_EXPANSION, MAX_KERNEL, MAX_LAYERS
from lutnas.spaces.base import MAX_RESOLUTION, MIN_RESOLUTION
from lutnas.spaces.blocks import ConvOp

MAX_STRIDE = 4
MAX_STAGES = 64
MAX_CLASSES = 100_000
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
_CONV_OP_RE = re.compile(r"^(conv|dconv|mbconv([0-9]+))$")
CONV_OP_RULE = f"conv, dconv or mbconvN (N = 1 to {MAX_EXPANSION}, e.g. mbconv6)"


def fail(path: str, problem: str) -> None:
    raise LutnasError(f"{path}: {problem}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


class Table:
    """One table of a definition at ``path`` (``""`` for the top level): its keys are checked
    against ``keys`` when it is made."""

    def __init__(self, data: object, path: str, keys: tuple[str, ...], what: str) -> None:
        if not isinstance(data, dict):
            fail(path or "the file", f"must be a table with keys {', '.join(keys)}")
        for key in data:
            if key not in keys:
                fail(self._join(path, key), f"unknown key; {what} has {', '.join(keys)}")
        self.data, self.path = data, path

    @staticmethod
    def _join(path: str, key: object) -> str:
        return f"{path}.{key}" if path else str(key)

    def where(self, key: str) -> str:
        return self._join(self.path, key)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, read: Callable[[object, str], object], default: object = ...) -> object:
        """``read(value, path)`` of ``key``; ``default`` when it is absent (no default: it is
        required)."""
        if key not in self.data:
            if default is ...:
                fail(self.where(key), "missing (it is required)")
            return default
        return read(self.data[key], self.where(key))


# --- single values ------------------------------------------------------------------------------
def whole(low: int, high: int, note: str = "") -> Callable[[object, str], int]:
    def read(value: object, path: str) -> int:
        if not (_is_int(value) and low <= value <= high):
            fail(path, f"must be a whole number from {low} to {high}{note}, got {value!r}")
        return value  # type: ignore[return-value]

    return read


def kernel(value: object, path: str) -> int:
    k = whole(1, MAX_KERNEL, " (odd)")(value, path)
    if k % 2 == 0:
        fail(path, f"must be odd (a kernel has a centre), got {k}; use {k - 1} or {k + 1}")
    return k


def stride(value: object, path: str) -> int:
    return whole(1, MAX_STRIDE)(value, path)


def channels(divisor: int, allow_zero: bool = False) -> Callable[[object, str], int]:
    """A width: a whole number, a multiple of the space's ``channel_divisor``."""

    def read(value: object, path: str) -> int:
        c = whole(0 if allow_zero else 1, MAX_CHANNELS)(value, path)
        if c % divisor:
            low = max(divisor, c // divisor * divisor)
            fail(
                path,
                f"{c} is not a multiple of the channel divisor {divisor} (channel_divisor): "
                f"use {low} or {low + divisor}",
            )
        return c

    return read


def act(value: object, path: str) -> str:
    if value not in ACTS:
        fail(path, f"unknown activation {value!r}; lutnas knows {', '.join(ACTS)}")
    return value  # type: ignore[return-value]


def flag(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        fail(path, f"must be true or false, got {value!r}")
    return value  # type: ignore[return-value]


def text(value: object, path: str) -> str:
    if not isinstance(value, str):
        fail(path, f"must be a string, got {value!r}")
    return value  # type: ignore[return-value]


def name(value: object, path: str) -> str:
    if not (isinstance(value, str) and NAME_RE.match(value)) or value.endswith(".toml"):
        fail(path, f"must be a name of {NAME_RULE} (not ending in .toml), got {value!r}")
    return value  # type: ignore[return-value]


def resolution(value: object, path: str) -> int:
    r = whole(MIN_RESOLUTION, MAX_RESOLUTION, " (a multiple of 8)")(value, path)
    if r % 8:
        fail(path, f"{r} is not a multiple of 8: use {r // 8 * 8 or 8} or {r // 8 * 8 + 8}")
    return r


def conv_op(value: object, path: str) -> ConvOp:
    m = _CONV_OP_RE.match(value) if isinstance(value, str) else None
    if m is None:
        fail(path, f"unknown op {value!r}; the ops are {CONV_OP_RULE}")
    if m[2] is None:
        return ConvOp(m[1])
    expansion = int(m[2])
    if not 1 <= expansion <= MAX_EXPANSION:
        fail(path, f"unknown op {value!r}; the ops are {CONV_OP_RULE}")
    return ConvOp("mbconv", expansion)


def se_ratio(value: object, path: str) -> float:
    if not (_is_number(value) and 0 <= value < 1):
        fail(path, f"must be a number from 0 (no SE) to below 1, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def skip(value: object, path: str) -> str:
    if value not in SKIPS:
        fail(path, f"unknown skip {value!r}; the skips are {', '.join(SKIPS)}")
    return value  # type: ignore[return-value]


def multiplier(value: object, path: str) -> float:
    if not (_is_number(value) and 0 < value <= 8):
        fail(path, f"must be a number above 0 and at most 8, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def delta(value: object, path: str) -> int:
    return whole(-MAX_LAYERS, MAX_LAYERS)(value, path)


# --- choice sets --------------------------------------------------------------------------------
def choices(read: Callable[[object, str], object]) -> Callable[[object, str], tuple]:
    """A choice set: a non-empty list of distinct values, each read with ``read``, in the
    order given (the order of the tokens)."""

    def read_list(value: object, path: str) -> tuple:
        if not isinstance(value, list):
            fail(path, f"must be a list of choices like [3, 5], got {value!r}")
        if not value:
            fail(path, "is empty: a choice set needs at least one choice")
        out = tuple(read(v, f"{path}[{i}]") for i, v in enumerate(value))
        repeated = sorted({repr(v) for v in value if value.count(v) > 1})
        if len(set(out)) < len(out):
            fail(path, f"repeats {', '.join(repeated) or 'a choice'}: each choice once")
        return out

    return read_list
