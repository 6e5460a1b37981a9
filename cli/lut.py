"""``lutnas lut show|export|merge``."""

from __future__ import annotations

import argparse

from lut.export import export_csv, export_parquet, merge
from lut.store import LutStore
from lutnas.errors import LutnasError
from profiler.report import describe
from spaces.space import get_space


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="lut_command", required=True)
    show = sub.add_parser("show", help="counts, coverage of a space, noisiest rows")
    show.add_argument("lut")
    show.add_argument("--space", default="mnasnet")
    show.add_argument("--noisiest", type=int, default=10)
    exp = sub.add_parser("export", help="write the LUT as CSV or Parquet")
    exp.add_argument("lut")
    exp.add_argument("--csv", metavar="OUT.csv")
    exp.add_argument("--parquet", metavar="OUT.parquet")
    mrg = sub.add_parser("merge", help="merge LUTs of one backend configuration")
    mrg.add_argument("inputs", nargs="+")
    mrg.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> int:
    if args.lut_command == "show":
        with LutStore.open(args.lut, writable=False) as store:
            print(describe(store, get_space(args.space), args.noisiest))
    elif args.lut_command == "export":
        if not (args.csv or args.parquet):
            raise LutnasError("say where to export: --csv OUT.csv and/or --parquet OUT.parquet")
        with LutStore.open(args.lut, writable=False) as store:
            written = []
            if args.csv:
                written += export_csv(store, args.csv)
            if args.parquet:
                written += export_parquet(store, args.parquet)
        print("wrote " + ", ".join(map(str, written)))
    elif args.lut_command == "merge":
        counts = merge(args.out, args.inputs)
        print(
            f"{args.out}: {counts['layers']} layer rows written ({counts['conflicts']} keys were "
            f"in several files; the steadiest row kept), {counts['models']} whole models added"
        )
    return 0
