"""Options several commands declare alike, declared once."""

from __future__ import annotations

import argparse

from lutnas.cli_util import bounded
from lutnas.numbers import MAX_SEED
from lutnas.spaces.registry import BUILTIN_SPACES

SPACE_HELP = (
    f"search space: a name ({', '.join(BUILTIN_SPACES)}) or a space file PATH.toml (docs/spaces.md)"
)


def description(doc: str | None) -> str:
    """A module docstring as ``--help`` shows it: without reStructuredText's double
    backticks (``lutnas fit`` reads as lutnas fit on a terminal)."""
    return (doc or "").replace("``", "")


def add_space_option(parser: argparse.ArgumentParser, default: str | None = "mnasnet") -> None:
    """``--space NAME|PATH.toml`` (default mnasnet; None: no space unless given)."""
    tail = " (default: %(default)s)" if default else ""
    parser.add_argument(
        "--space", default=default, metavar="NAME|PATH.toml", help=SPACE_HELP + tail
    )


def add_space_file_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--space NAME|PATH.toml`` for commands that read architectures: the file of a space the
    input's architectures are from (``what``), when it is not built in and not stored in the
    LUT or predictor given."""
    parser.add_argument(
        "--space",
        action="append",
        default=[],
        metavar="NAME|PATH.toml",
        help=f"a space file {what} are from (repeatable); not needed for the built-in spaces "
        "or for a space the LUT or predictor stores; a file that differs from a stored space "
        "of its name is refused",
    )


def load_spaces(names: list[str]) -> list:
    """The spaces of repeated ``--space`` options, each registered."""
    from lutnas.spaces.spacefile import load_space

    return [load_space(n) for n in names]


def add_seed_option(parser: argparse.ArgumentParser, seeds: str) -> None:
    """``--seed N`` (default 0, from 0 to 2**32 - 1); ``seeds`` says what it seeds."""
    parser.add_argument(
        "--seed",
        type=bounded(int, 0, MAX_SEED),
        default=0,
        help=f"seed of {seeds}, from 0 to {MAX_SEED} (default: %(default)s)",
    )


def add_resolution_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--resolution R``, repeatable, a whole number of pixels from 32 to 2048."""
    parser.add_argument(
        "--resolution", type=bounded(int, 32, 2048), action="append", metavar="R", help=help
    )
