"""The packages form one-way layers, the order data flows in:

    lutnas (errors, sqlite, cli helpers) <- lut <- spaces <- profiler <- predictor <- search <- cli

A module may import its own package and the ones to its left, never one to its right. Every
import counts: at module level and inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["lutnas", "lut", "spaces", "profiler", "predictor", "search", "cli"]


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
    for package in ORDER:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, module in _imports(path):
                top = module.split(".")[0]
                if top in rank and rank[top] > rank[package]:
                    out.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return out


def test_every_package_exists():
    assert [p for p in ORDER if not (ROOT / p / "__init__.py").is_file()] == []


def test_imports_only_point_down_the_data_flow():
    assert violations() == []


def test_the_check_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    # the checker itself, on a module that imports upwards only inside a function
    fake = tmp_path / "lut"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "bad.py").write_text("def f():\n    from spaces.arch import Arch\n    return Arch\n")
    (fake / "rel.py").write_text("from .bad import f\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    for package in ORDER[1:]:
        (tmp_path / package).mkdir(exist_ok=True)
    assert violations() == ["lut/bad.py:2 imports spaces.arch"]
    assert _imports(fake / "rel.py") == [(1, "lut.bad")]
