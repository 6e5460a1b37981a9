"""Shared command-line plumbing: error printing and JSON inputs."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from lutnas.errors import LutnasError


def user_errors(fn: Callable[..., int]) -> Callable[..., int]:
    """Print ``LutnasError`` as ``error: ...`` (exit 2) and Ctrl-C as a resumable stop (130)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> int:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
        try:
            return fn(*args, **kwargs)
        except LutnasError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(
                "\ninterrupted: everything finished is saved; run the same command "
                "again to resume.",
                file=sys.stderr,
            )
            return 130

    return wrapper


def read_json(path: str | Path, what: str) -> object:
    path = Path(path)
    if not path.is_file():
        raise LutnasError(f"{what} file {path} does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LutnasError(f"{what} file {path} is not valid JSON ({exc})") from None
