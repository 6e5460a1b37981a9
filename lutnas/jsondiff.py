"""Where two JSON-like values first differ, as a path a person can find in a file
(``stages[2].kernels``): what a refusal to mix two definitions under one name names."""

from __future__ import annotations


def first_difference(a: object, b: object, path: str = "") -> tuple[str, object, object] | None:
    """``(path, a's value, b's value)`` at the first place (in key order) where ``a`` and ``b``
    differ, or None when they are equal. A key missing on one side shows as ``None`` there."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                return where, a.get(key), b.get(key)
            found = first_difference(a[key], b[key], where)
            if found:
                return found
        return None
    if isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    same = a == b and type(a) is type(b) or (_number(a) and _number(b) and a == b)
    return None if same else (path or "(the whole value)", a, b)


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def describe_difference(
    a: object, b: object, a_label: str, b_label: str, path_prefix: str = ""
) -> str | None:
    """``stages[2].kernels: {a_label} [3, 5], {b_label} [3, 5, 7]`` or None when equal."""
    found = first_difference(a, b)
    if found is None:
        return None
    path, x, y = found
    return f"{path_prefix}{path}: {a_label} {_show(x)}, {b_label} {_show(y)}"


def _show(value: object) -> str:
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
