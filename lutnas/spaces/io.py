"""Reading and writing architecture files (JSON): one arch, a list, or {"archs": [...]}."""

from __future__ import annotations

import json
from pathlib import Path

from lutnas.cli_util import read_json
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch


def load_archs(path: str | Path) -> list[Arch]:
    """The architectures of a JSON file: one record, a list of them, or ``{"archs": [...]}``.

    Raises:
        LutnasError: no such file, invalid JSON, no architectures in it, or a record with a bad
            field (``arch 3 in my.json: resolution must be ...``; archs are counted from 1).
    """
    data = read_json(path, "architecture")
    if isinstance(data, dict) and "archs" in data:
        data = data["archs"]
        if not isinstance(data, list):
            raise LutnasError(f'{path}: "archs" must be a list of architecture records')
    records = data if isinstance(data, list) else [data]
    if not records:
        raise LutnasError(
            f"{path} has no architectures (an empty list); give at least one record like "
            'Arch.to_json() writes: {"space": ..., "resolution": ..., "blocks": [...]}'
        )
    archs = []
    for i, record in enumerate(records, start=1):
        try:
            archs.append(Arch.from_dict(record))
        except LutnasError as exc:
            raise LutnasError(f"arch {i} in {path}: {exc}") from None
    return archs


def save_archs(path: str | Path, archs: list[Arch]) -> None:
    Path(path).write_text(json.dumps({"archs": [a.to_dict() for a in archs]}, indent=1))
