"""Reading and writing architecture files (JSON): one arch, a list, or {"archs": [...]}."""

from __future__ import annotations

import json
from pathlib import Path

from lutnas.cli_util import read_json
from lutnas.errors import LutnasError
from spaces.arch import Arch


def load_archs(path: str | Path) -> list[Arch]:
    data = read_json(path, "architecture")
    if isinstance(data, dict) and "archs" in data:
        data = data["archs"]
    records = data if isinstance(data, list) else [data]
    archs = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise LutnasError(f"{path}: entry {i} is not an architecture object")
        try:
            archs.append(Arch.from_dict(record))
        except LutnasError as exc:
            raise LutnasError(f"{path}: entry {i}: {exc}") from None
    return archs


def save_archs(path: str | Path, archs: list[Arch]) -> None:
    Path(path).write_text(json.dumps({"archs": [a.to_dict() for a in archs]}, indent=1))
