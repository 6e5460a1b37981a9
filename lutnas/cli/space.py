"""``lutnas space show NAME|PATH.toml``: a search space's decisions, size and unique layers.

lutnas space show mnasnet
lutnas space show my_space.toml            # checks the file; an error names the bad field
lutnas space show tiny --lut received.lut  # a space the LUT stores, without its file
"""

from __future__ import annotations

import argparse

from lutnas.cli.options import add_resolution_option


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="space_command", required=True)
    show = sub.add_parser("show", help="decisions, size, unique layers per resolution, tokens")
    show.add_argument("space", metavar="NAME|PATH.toml", help="a space name or a space file")
    show.add_argument("--lut", help="also know the spaces this LUT stores (a received LUT)")
    show.add_argument("--predictor", help="also know the spaces this predictor stores")
    add_resolution_option(show, "count unique layers at R (repeatable; default: the space's)")


def run(args: argparse.Namespace) -> int:
    from lutnas.spaces.show import describe
    from lutnas.spaces.spacefile import is_space_path, load_space
    from lutnas.spaces.stored import adopt_definitions, adopt_lut_spaces

    if is_space_path(args.space):
        load_space(args.space)  # first: a stored space of its name that differs is refused
    if args.lut:
        from lut.store import LutStore

        with LutStore.open(args.lut, writable=False) as store:
            adopt_lut_spaces(store)
    if args.predictor:
        from predictor.persistence import load

        meta = load(args.predictor).meta
        adopt_definitions(meta["training"].get("space_definitions"), f"predictor {args.predictor}")
    space = load_space(args.space)
    resolutions = tuple(space.check_resolution(r) for r in args.resolution or ())
    print(describe(space, resolutions or None))
    return 0
