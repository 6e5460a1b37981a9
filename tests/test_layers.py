"""The packages form one-way layers, the order data flows in:

    lutnas (errors, sqlite, locks, registries, cli helpers) <- lut <- lutnas.spaces
        <- profiler <- predictor <- search <- lutnas.cli

A module may import its own layer and the ones to its left, never one to its right. Every
import counts: at module level and inside functions (a lazy import is still a dependency).
A layer is a package path; a module belongs to the longest layer path that is a prefix of its
name, so ``lutnas.spaces.arch`` is in ``lutnas.spaces``, ``lutnas.errors`` in ``lutnas``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["lutnas", "lut", "lutnas.spaces", "profiler", "predictor", "search", "lutnas.cli"]
TOP_LEVEL = sorted({layer.split(".")[0] for layer in ORDER})


def layer_of(module: str) -> str | None:
    """The layer ``module`` belongs to (the longest matching package path), or None."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in ORDER:
            return ".".join(parts[:n])
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def violations() -> list[str]:
    rank = {name: i for i, name in enumerate(ORDER)}
    out = []
    for top in TOP_LEVEL:
        for path in sorted((ROOT / top).rglob("*.py")):
            own = layer_of(".".join(path.relative_to(ROOT).with_suffix("").parts))
            for line, module in _imports(path):
                target = layer_of(module)
                if target is not None and rank[target] > rank[own]:
                    out.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return out


def test_every_layer_exists():
    missing = [
        layer for layer in ORDER if not (ROOT / layer.replace(".", "/") / "__init__.py").is_file()
    ]
    assert missing == []


def test_imports_only_point_down_the_data_flow():
    assert violations() == []


def test_a_module_belongs_to_its_longest_layer():
    assert layer_of("lutnas.errors") == "lutnas"
    assert layer_of("lutnas.spaces.arch") == "lutnas.spaces"
    assert layer_of("lutnas.cli.main") == "lutnas.cli"
    assert layer_of("numpy") is None


def test_the_check_sees_lazy_relative_and_nested_imports(tmp_path, monkeypatch):
    # the checker itself: an upward import only inside a function, a relative one, and one
    # from the base layer up into a layer nested inside the same top-level package
    fake = tmp_path / "lut"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "bad.py").write_text(
        "def f():\n    from lutnas.spaces.arch import Arch\n    return Arch\n"
    )
    (fake / "rel.py").write_text("from .bad import f\n")
    base = tmp_path / "lutnas"
    base.mkdir()
    (base / "__init__.py").write_text("")
    (base / "errors.py").write_text("import lutnas.cli.main\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    for top in TOP_LEVEL:
        (tmp_path / top).mkdir(exist_ok=True)
    assert violations() == [
        "lut/bad.py:2 imports lutnas.spaces.arch",
        "lutnas/errors.py:1 imports lutnas.cli.main",
    ]
    assert _imports(fake / "rel.py") == [(1, "lut.bad")]
