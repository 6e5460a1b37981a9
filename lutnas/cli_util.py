"""Shared command-line plumbing: error printing and JSON inputs."""

from __future__ import annotations

import argparse
import errno
import functools
import json
import logging
import os
import select
import shlex
import signal
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from lutnas.errors import LutnasError


def user_errors(fn: Callable[..., int]) -> Callable[..., int]:
    """Print ``LutnasError`` as ``error: ...`` (exit 2) and Ctrl-C as a resumable stop (130);
    when standard output's reader goes away (``lutnas lut show host.lut | head -1``), whatever
    the command or argparse was printing, end quietly with 141 as a command killed by SIGPIPE.
    Every command line is wrapped here (``lutnas``, ``profile-device``), no command on its own."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> int:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
        try:
            try:
                status = fn(*args, **kwargs)
            except SystemExit as stop:  # argparse's --help, --version, usage: text buffered
                sys.stdout.flush()
                if stop.code in (0, None) and _stdout_gone():  # argparse drops write errors
                    return 128 + signal.SIGPIPE
                raise
            sys.stdout.flush()  # a reader that went away is found here, not at exit
            return status
        except BrokenPipeError:
            if not _stdout_gone():
                raise  # another pipe (a subprocess, a socket): a real error
            return 128 + signal.SIGPIPE  # as a command killed by SIGPIPE: the reader quit
        except LutnasError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except sqlite3.DatabaseError as exc:  # disk full, unwritable, locked, damaged, ...
            print(f"error: {_database_advice(str(exc))}", file=sys.stderr)
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


def _stdout_gone() -> bool:
    """Whether standard output's reader has gone (``lutnas fit | head -1``); if so, output
    from here on is dropped, so nothing is printed about it at exit."""
    try:
        fd = sys.stdout.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poll.poll(0))  # no reader left
    except (OSError, ValueError, AttributeError):  # not a file descriptor
        return False
    if gone:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    return gone


_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _database_advice(problem: str) -> str:
    """One line for an SQLite error no command turned into its own message."""
    if any(w in problem.lower() for w in ("malformed", "not a database", "decode", "corrupt")):
        return (
            f"cannot read a database file: it is damaged ({problem}); for a LUT, copy its "
            "readable rows into a new one with: lutnas lut repair LUT --out NEW.lut"
        )
    return _storage_advice(problem, None)


def _storage_advice(problem: str, path: str | None) -> str:
    """One line: what the storage said, where, and what to do."""
    where = f" ({path})" if path else ""
    if any(word in problem.lower() for word in ("full", "quota", "no space")):
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
    """The JSON value in the file ``path``; ``what`` names the file in errors.

    Raises:
        LutnasError: no such file, a directory, not UTF-8 text, not JSON, or nested too deeply.
    """
    path = Path(path)
    text = read_text(path, f"{what} file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LutnasError(f"{what} file {path} is not valid JSON ({exc})") from None
    except RecursionError:
        raise LutnasError(
            f"{what} file {path} is nested too deeply to be read (arrays or objects within "
            "each other thousands deep); it is no file lutnas wrote"
        ) from None


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text (a byte-order mark dropped) of the file ``path``; ``what`` names it.

    Raises:
        LutnasError: no such file, a directory, unreadable, or not UTF-8 text (the message
            names the byte offset).
    """
    path = Path(path)
    if path.is_dir():
        raise LutnasError(f"{what} {path} is a directory; give a file")
    if not path.is_file():
        raise LutnasError(f"{what} {path} does not exist")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LutnasError(
            f"{what} {path} is not UTF-8 text (byte {exc.start} is 0x{exc.object[exc.start]:02x}"
            "); is it the right file?"
        ) from None
    except OSError as exc:
        raise LutnasError(f"cannot read {what} {path}: {exc.strerror}") from None


def output_file(path: str | Path, option: str) -> Path:
    """``path`` checked as a file a command will write (``option`` names it): not a directory,
    its directory made if missing.

    Raises:
        LutnasError: a directory given, or a directory that cannot be made.
    """
    path = Path(path)
    if path.is_dir():
        raise LutnasError(
            f"{option} {path} is a directory; give a file name, e.g. {option} "
            f"{quote(path / ('out' + (path.suffix or _SUFFIXES.get(option, ''))))}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LutnasError(
            f"cannot make the directory of {option} {path}: {exc.strerror} ({exc.filename})"
        ) from None
    return path


_SUFFIXES = {"--csv": ".csv", "--parquet": ".parquet", "--json": ".json", "--png": ".png"}
