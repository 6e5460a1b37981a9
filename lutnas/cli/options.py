"""Options several commands declare alike, declared once."""

from __future__ import annotations

import argparse

from lutnas.cli_util import bounded
from lutnas.numbers import MAX_SEED
from lutnas.spaces.space import list_spaces


def add_space_option(parser: argparse.ArgumentParser) -> None:
    """``--space NAME`` (default mnasnet), its help listing the registered spaces."""
    parser.add_argument(
        "--space",
        default="mnasnet",
        help=f"search space: {', '.join(list_spaces())} (default: %(default)s)",
    )


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
