"""``lutnas lut show|export|merge|remove|retime|repair``.

lutnas lut remove host.lut KEY [KEY ...]         drop rows (profile-device re-measures them)
lutnas lut remove host.lut --noisier-than 0.1   drop the rows whose robust CV is above 10%
lutnas lut retime host.lut                      re-time the whole models timed off speed
lutnas lut retime host.lut --noisier-than 0.1   re-time the noisy layer rows in place
lutnas lut repair host.lut --out fixed.lut      copy a damaged LUT's readable rows
"""

from __future__ import annotations

import argparse

from lut.export import export_csv, export_parquet, merge
from lut.store import LutStore
from lutnas.cli_util import bounded, output_file, quote
from lutnas.errors import LutnasError
from lutnas.spaces.spacefile import load_space
from lutnas.spaces.stored import adopt_lut_spaces
from profiler.report import describe


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="lut_command", required=True)
    show = sub.add_parser("show", help="counts, coverage of a space, noisiest rows")
    show.add_argument("lut")
    show.add_argument(
        "--space",
        default="mnasnet",
        metavar="NAME|PATH.toml",
        help="space whose coverage to show: a name (also of a space the LUT stores) or a space "
        "file (default: %(default)s)",
    )
    show.add_argument(
        "--noisiest",
        type=bounded(int, 0, 10_000_000),
        default=10,
        help="rows to list, noisiest first (default: %(default)s)",
    )
    exp = sub.add_parser("export", help="write the LUT as CSV or Parquet")
    exp.add_argument("lut")
    exp.add_argument("--csv", metavar="OUT.csv", help="layers CSV (+ .models.csv, .meta.json)")
    exp.add_argument("--parquet", metavar="OUT.parquet", help="Parquet, metadata in its schema")
    mrg = sub.add_parser("merge", help="merge LUTs of one backend configuration")
    mrg.add_argument("inputs", nargs="+")
    mrg.add_argument("--out", required=True, help="the merged LUT file to write")
    rm = sub.add_parser(
        "remove", help="remove rows (layer keys or arch keys); profile-device re-measures them"
    )
    rm.add_argument("lut")
    rm.add_argument("keys", nargs="*", metavar="KEY", help="a layer key or a whole model's key")
    rm.add_argument(
        "--noisier-than",
        type=bounded(float, 0.0),
        metavar="CV",
        help="also remove every layer row whose robust CV is above CV (0.1: 10%%)",
    )
    rt = sub.add_parser(
        "retime",
        help="re-time whole models timed off speed (default) or noisy layer rows, in place",
        description="Re-time rows of a host LUT on this machine, in one session, with its "
        "backend configuration and drift reference; each row is replaced as it is re-timed "
        "(a layer row only by a steadier measurement). Best on an idle machine.",
    )
    rt.add_argument("lut")
    rt.add_argument(
        "--noisier-than",
        type=bounded(float, 0.0),
        metavar="CV",
        help="re-time the layer rows whose robust CV is above CV (0.1: 10%%) instead",
    )
    rt.add_argument(
        "--all-models",
        action="store_true",
        help="re-time every whole model (one scale for all of them), not only those off speed",
    )
    rt.add_argument("--no-progress", action="store_true", help="no progress bar")
    rep = sub.add_parser("repair", help="copy the readable rows of a damaged LUT into a new one")
    rep.add_argument("lut")
    rep.add_argument("--out", required=True, help="the new LUT file (must not exist)")


def run(args: argparse.Namespace) -> int:
    if args.lut_command == "show":
        with LutStore.open(args.lut, writable=False) as store:
            adopt_lut_spaces(store)
            print(describe(store, load_space(args.space), args.noisiest))
            for table in store.damaged_rows():
                print(f"  damaged: {store.checks.describe(table)}")
    elif args.lut_command == "export":
        if not (args.csv or args.parquet):
            raise LutnasError("say where to export: --csv OUT.csv and/or --parquet OUT.parquet")
        for option, target in (("--csv", args.csv), ("--parquet", args.parquet)):
            if target:
                output_file(target, option)
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
        if counts["transferred"]:
            print(
                f"  {counts['transferred']} transferred rows (not measurements) where no file "
                f"measured the key ({counts['transferred_conflicts']} keys transferred in "
                "several files; the narrowest interval kept)"
            )
    elif args.lut_command == "remove":
        _remove(args.lut, args.keys, args.noisier_than)
    elif args.lut_command == "retime":
        _retime(args)
    elif args.lut_command == "repair":
        _repair(args.lut, args.out)
    return 0


def _remove(path: str, keys: list[str], noisier_than: float | None) -> None:
    if not keys and noisier_than is None:
        raise LutnasError("say what to remove: KEY ... and/or --noisier-than CV (e.g. 0.1)")
    with LutStore.edit(path) as store:  # holds the writer lock, as profiling does
        if noisier_than is not None:
            from profiler.quality import noisy_keys

            keys = [*keys, *noisy_keys(store.layers_frame(), noisier_than)]
        stored = store.stored_keys()  # damaged rows included: removing them is a fix
        unknown = [k for k in keys if k not in stored]
        if unknown:
            more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
            raise LutnasError(
                f"{path} has no row {', '.join(map(repr, unknown[:5]))}{more}; nothing was "
                f"removed. List its keys with: lutnas lut export {quote(path)} --csv rows.csv"
            )
        layers, models = store.remove_layers(keys), store.remove_models(keys)
    print(f"{path}: removed {len(layers)} layer rows and {len(models)} whole-model rows")
    print(
        "  to re-measure them, run the profile-device command that made it again\n"
        "  (it resumes and measures what is missing)"
    )


def _retime(args: argparse.Namespace) -> None:
    from profiler.quality import assess_store, noisy_keys, off_speed_keys, quality_lines
    from profiler.retime import retime

    with LutStore.open(args.lut, writable=False) as store:
        if args.noisier_than is not None:
            layers, models = noisy_keys(store.layers_frame(), args.noisier_than), []
            what = f"layer rows noisier than {100 * args.noisier_than:g}%"
        else:
            frame = store.models_frame()
            models = list(frame["arch_key"]) if args.all_models else off_speed_keys(frame)
            layers, what = [], "whole models" + ("" if args.all_models else " timed off speed")
    if not layers and not models:
        print(f"{args.lut}: no {what}; nothing to re-time")
        return
    print(f"re-timing {len(layers) + len(models)} {what} of {args.lut} on this machine")
    report = retime(args.lut, layer_keys=layers, model_keys=models, progress=not args.no_progress)
    for part, r in (("layers", report.layers), ("whole models", report.models)):
        if r is not None:
            print(f"{part}: {r.measured} re-timed, {len(r.failed)} failed, {r.seconds:.0f} s")
    if report.kept_old:
        print(f"  {report.kept_old} rows kept their stored measurement (the new one was noisier)")
    with LutStore.open(args.lut, writable=False) as store:
        runs = store.settings.get("runs")
        print("\n".join(quality_lines(assess_store(store), args.lut, runs)))


def _repair(path: str, out: str) -> None:
    from lut.repair import repair

    result = repair(path, out)
    moved = result.rows.get("transferred", 0)
    print(
        f"{out}: {result.rows['layers']} layer rows"
        + (f", {moved} transferred rows" if moved else "")
        + f" and {result.rows['models']} whole-model rows copied from {path} (left unchanged)"
    )
    if result.from_pages:
        print(
            "  SQLite refused part of the file, so its pages were read directly; rows on "
            "pages that are gone entirely cannot be listed"
        )
    if result.supplied_meta:
        print(
            f"  damaged metadata supplied: {', '.join(result.supplied_meta)} (the same in every "
            "LUT, or left empty)"
        )
    lost = [k for keys in result.lost.values() for k in keys]
    if result.unreadable_cells:
        print(f"  {result.unreadable_cells} damaged cells of the file held no readable row")
    if lost:
        print(f"  {len(lost)} rows could not be read: {', '.join(lost[:10])}")
    elif not result.from_pages:
        print("  no row was lost")
        return
    print(
        "  to re-measure what is missing, run the profile-device command that made it again "
        f"with --out {quote(out)} (it resumes and measures what is missing)"
    )
