"""Commands start fast (issue 14): importing a CLI module, which is all ``--help`` and an
argument error need, must not load the heavy libraries; they load inside ``run()``.

A structural check in a fresh interpreter, not a timing (benchmarks/startup_time.py times it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI_MODULES = sorted(
    f"lutnas.cli.{p.stem}" for p in (ROOT / "lutnas" / "cli").glob("*.py") if p.stem != "__init__"
)
HEAVY = ("torch", "xgboost", "onnxruntime", "pandas")


@pytest.mark.parametrize("module", CLI_MODULES)
def test_importing_a_cli_module_loads_no_heavy_library(module):
    code = (
        f"import sys, {module}\n"
        "import lutnas.cli.main\n"
        "lutnas.cli.main.build_parser()\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [], f"{module} (and the parser) loaded {out.stdout.strip()}"
