"""``lutnas``: one command with a subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import sys

from lutnas import __version__
from lutnas.cli.options import description
from lutnas.cli_util import user_errors

# subcommand -> (module with add_arguments/run, help)
SUBCOMMANDS = {
    "profile-device": ("lutnas.cli.profile", "time a search space's layers into a LUT"),
    "lut": ("lutnas.cli.lut", "inspect, export, merge, remove rows from and repair LUT files"),
    "fit": ("lutnas.cli.fit", "fit a latency predictor on a LUT and whole-model measurements"),
    "predict": ("lutnas.cli.predict", "predict the latency of an architecture or torch model"),
    "evaluate": ("lutnas.cli.evaluate", "the predictor's accuracy report"),
    "search": ("lutnas.cli.search", "architecture search on predicted latency (no device needed)"),
    "export": ("lutnas.cli.export", "write an architecture as the .tflite file a phone runs"),
    "space": ("lutnas.cli.space", "show a search space (a name or a space file): decisions, size"),
    "calibrate": (
        "lutnas.cli.calibrate",
        "move a predictor to a new device with a few measurements",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lutnas", description=description(__doc__))
    parser.add_argument("--version", action="version", version=f"lutnas {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(
            name,
            help=help_text,
            description=description(module.__doc__),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


@user_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args._run(args)


if __name__ == "__main__":
    sys.exit(main())
