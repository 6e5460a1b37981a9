"""Shared command-line plumbing: error printing and JSON inputs."""

from __future__ import annotations

import argparse
import errno
import functools
import json
import logging
import shlex
import sqlite3
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
        except sqlite3.DatabaseError as exc:  # disk full, unwritable, locked, ...
            print(f"error: {_storage_advice(str(exc), None)}", file=sys.stderr)
            return 2
        except OSError as exc:
            if exc.errno not in _STORAGE_ERRNOS:
                raise  # not the environment's doing: a bug, shown in full
            print(f"error: {_storage_advice(exc.strerror, exc.filename)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(
                "\ninterrupted: everything finished is saved; run the same command "
                "again to resume.",
                file=sys.stderr,
            )
            return 130

    return wrapper


_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _storage_advice(problem: str, path: str | None) -> str:
    """One line: what the storage said, where, and what to do."""
    where = f" ({path})" if path else ""
    if "full" in problem.lower() or "quota" in problem.lower():
        todo = "free space on that disk, then run the same command again: finished work is saved"
    else:
        todo = "check the path and its permissions, or write to another location (e.g. --out)"
    return f"cannot write{where}: {problem}; {todo}"


def quote(path: str | Path) -> str:
    """``path`` as it must appear in a command printed for the user to copy: quoted for the
    shell when it holds a space, a quote or another special character (``shlex.quote``)."""
    return shlex.quote(str(path))


def bounded(
    kind: type, low: float | None = None, high: float | None = None, above: bool = False
) -> Callable[[str], float]:
    """An argparse ``type=`` that parses ``kind`` (int or float) and checks its range, so a bad
    value ends in argparse's ``error:`` line naming the option and the accepted range.

    ``above``: ``low`` itself is excluded (e.g. a threshold that must be positive).
    """
    if low is None:
        accepted = f"at most {high}"
    elif high is None:
        accepted = f"above {low}" if above else f"at least {low}"
    else:
        accepted = f"from {low} to {high}" if not above else f"above {low} and at most {high}"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if kind is int else 'a number'}"
            ) from None
        too_low = low is not None and (value <= low if above else value < low)
        if too_low or (high is not None and value > high) or value != value:  # NaN
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def read_json(path: str | Path, what: str) -> object:
    path = Path(path)
    if not path.is_file():
        raise LutnasError(f"{what} file {path} does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LutnasError(f"{what} file {path} is not valid JSON ({exc})") from None
