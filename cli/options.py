"""Options several commands declare alike, declared once."""

from __future__ import annotations

import argparse

from spaces.space import list_spaces


def add_space_option(parser: argparse.ArgumentParser) -> None:
    """``--space NAME`` (default mnasnet), its help listing the registered spaces."""
    parser.add_argument(
        "--space",
        default="mnasnet",
        help=f"search space: {', '.join(list_spaces())} (default: %(default)s)",
    )
