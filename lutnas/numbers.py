"""Checks of numeric options given in the open (``--strategy-opt lr=abc``, a Python caller's
``population_size=1e999``): each value is of the right kind, finite and inside its range, or a
:class:`LutnasError` names the option, the range and the value. (Command-line options parsed by
argparse use :func:`lutnas.cli_util.bounded`.)

    lr = real(lr, "lr", 0, 10, above=True)         # 0 < lr <= 10
    size = whole(population_size, "population_size", 1, 100_000)
"""

from __future__ import annotations

import math
import operator

from lutnas.errors import LutnasError

MAX_SEED = 2**32 - 1  # what every generator lutnas seeds accepts (numpy, torch, XGBoost)


def whole(value: object, name: str, low: int, high: int) -> int:
    """``value`` as an int: a whole number (``3`` or ``3.0``, not ``"3"``, ``3.5`` or
    ``True``) from ``low`` to ``high``.

    Raises:
        LutnasError: ``{name} must be a whole number from {low} to {high}, got ...``.
    """
    if isinstance(value, float):
        ok = math.isfinite(value) and value.is_integer() and low <= value <= high
    elif isinstance(value, bool) or not hasattr(value, "__index__"):
        ok = False
    else:  # an int or numpy integer, compared as an int: 10**400 has no float
        value = operator.index(value)
        ok = low <= value <= high
    if not ok:
        raise LutnasError(f"{name} must be a whole number from {low} to {high}, got {_show(value)}")
    return int(value)


def real(value: object, name: str, low: float, high: float, *, above: bool = False) -> float:
    """``value`` as a finite float from ``low`` (excluded with ``above``) to ``high``.

    Raises:
        LutnasError: ``{name} must be a number from {low} to {high}, got ...``.
    """
    try:
        number = float(value) if isinstance(value, int | float) else math.nan
    except OverflowError:  # an int past the floats
        number = math.inf
    ok = not isinstance(value, bool) and math.isfinite(number)
    ok = ok and (low < number if above else low <= number) and number <= high
    if not ok:
        lower = f"above {low:g}" if above else f"from {low:g}"
        raise LutnasError(f"{name} must be a number {lower} to {high:g}, got {_show(value)}")
    return number


def flag(value: object, name: str) -> bool:
    """``value`` when it is ``True`` or ``False`` (JSON ``true``/``false``).

    Raises:
        LutnasError: anything else.
    """
    if not isinstance(value, bool):
        raise LutnasError(f"{name} must be true or false, got {_show(value)}")
    return value


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def seed(value: object, name: str = "seed") -> int:
    """A generator seed: a whole number from 0 to :data:`MAX_SEED`."""
    return whole(value, name, 0, MAX_SEED)
