"""``profile-device``: time every candidate layer of a search space into a LUT file.

profile-device                                   # host CPU, onnxruntime, mnasnet @224
profile-device --backend torch --resolution 160 --resolution 224 --out torch.lut
profile-device --arch mnasnet-a1 --limit 50      # only what MnasNet-A1 needs, 50 rows
profile-device --whole-models 200                # + 200 random whole models (predictor data)
profile-device --space my_space.toml --dry-run   # your own space (docs/spaces.md)
profile-device --whole-models 200 --whole-models-include resnet18,shufflenet   # + torchvision's
profile-device --backend torch --transfer-from onnxruntime.lut --sample 400 --whole-models 40
                                                 # 400 layers timed, the rest transferred
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys

from lut.spec import LayerSpec
from lut.store import LutStore
from lut.transferred import transferred_count
from lutnas.cli.adb import adb_backend_options, run_phones, several_phones
from lutnas.cli.options import description
from lutnas.cli.precision import precision_options
from lutnas.cli.profile_args import add_arguments as add_arguments  # cli.main builds the parser
from lutnas.cli.transfer import (
    apply_and_report,
    check_transfer_args,
    lookup_with_transferred,
    plan,
)
from lutnas.cli_util import user_errors
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.io import load_archs
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.spacefile import load_space
from lutnas.spaces.stored import adopt_lut_spaces, record_in_lut
from profiler.base import backend_class, get_backend
from profiler.loop import ProfileReport, ProfileSettings, profile_layers, profile_models
from profiler.networks import profile_networks, training_networks
from profiler.quality import assess_store, quality_lines
from profiler.torchvision_nets import expand_names
from profiler.training_data import candidate_pool, latency_stratified_archs


def _backend_options(args: argparse.Namespace) -> dict:
    options = {"threads": args.threads, **precision_options(args, backend_class(args.backend))}
    if args.backend == "adb":
        return {**options, **adb_backend_options(args)}
    return options


def _layers_wanted(
    args: argparse.Namespace, space, resolutions: list[int]
) -> dict[int, list[LayerSpec]]:
    archs = [get_named_arch(n) for n in args.arch]
    if args.archs:
        archs += load_archs(args.archs)
    if archs and args.resolution:  # the architectures' layers at the resolutions asked for
        archs = [dataclasses.replace(a, resolution=r) for a in archs for r in resolutions]
    if not archs:
        return {r: space.unique_layers(r) for r in resolutions}
    by_res: dict[int, dict[str, LayerSpec]] = {}
    for a in archs:
        if a.space != space.name:
            raise LutnasError(f"architecture {a.key} is from space {a.space!r}, not {space.name!r}")
        for spec in a.layers():
            by_res.setdefault(a.resolution, {})[spec.key] = spec
    return {r: list(specs.values()) for r, specs in sorted(by_res.items())}


def _whole_model_candidates(args: argparse.Namespace, space, resolutions: list[int]) -> list:
    """The architectures ``--whole-models`` draws from: the sampled ones, or the pool latency
    sampling picks from. Their layers are profiled first, whatever ``--limit`` says, so every
    whole model timed is usable by ``lutnas fit``."""
    if not args.whole_models:
        return []
    if args.whole_models_sampling == "latency":
        return candidate_pool(space, args.whole_models, args.seed, tuple(resolutions))
    return sample_archs(space, args.whole_models, args.seed, tuple(resolutions))


def _network_layers(names: list[str], resolutions: list[int]) -> list[LayerSpec]:
    """The layers of the torchvision networks ``names`` at each resolution, once each."""
    if not names:
        return []
    from predictor.named_networks import torchvision_layers  # torch: only when asked

    specs = [s for r in resolutions for n in names for s in torchvision_layers(n, r)]
    return list({s.key: s for s in specs}.values())


def _missing_model_layers(store: LutStore) -> list[LayerSpec]:
    """Layers of the file's whole models (and torchvision networks) that the file lacks
    (``--fill-models``)."""
    have = store.layer_keys()
    missing: dict[str, LayerSpec] = {}
    specs = [s for j in store.models_frame()["arch_json"] for s in Arch.from_json(j).layers()]
    for record in training_networks(store.meta).values():
        specs += _network_layers([record["name"]], [int(record["resolution"])])
    for spec in specs:
        if spec.key not in have:
            missing[spec.key] = spec
    return list(missing.values())


def _print_report(what: str, r: ProfileReport) -> None:
    moved = (
        f", {r.moved} of them moved outside their first 95% interval of the median"
        if r.remeasured
        else ""
    )
    print(
        f"{what}: {r.measured} measured ({r.remeasured} re-measured for noise{moved}), "
        f"{r.skipped} already in the file, {len(r.failed)} failed, {r.seconds:.0f} s"
    )
    for key, msg in list(r.failed.items())[:10]:
        print(f"  failed {key}: {msg}", file=sys.stderr)
    for event in r.drift:
        print(
            f"  drift: reference at {event['ratio']:.2f}x its timing at this run's start, "
            f"{event['rows_done']} rows in the file",
            file=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    backend_class(args.backend)  # an unknown backend is an error, a dry run's too
    space = load_space(args.space)
    default = 224 if 224 in space.resolutions else max(space.resolutions)
    resolutions = [space.check_resolution(r) for r in (args.resolution or [default])]
    if args.no_layers and (not args.whole_models or args.whole_models_sampling == "latency"):
        raise LutnasError(
            "--no-layers times whole models only: give --whole-models N, sampled uniformly "
            "(latency sampling needs the layers in the LUT)"
        )
    out = args.out or f"{args.backend}.lut"
    check_transfer_args(args, out)
    skip = args.fill_models or args.no_layers
    wanted = {} if skip else _layers_wanted(args, space, resolutions)
    specs = [s for r in wanted for s in wanted[r]]
    if args.limit is not None:
        random.Random(args.seed).shuffle(specs)
        specs = specs[: max(0, args.limit)]
    transfer = plan(args, specs) if args.transfer_from else None
    if transfer is not None:  # time the sample; the rest (the models' layers too) is moved
        specs = list(transfer.sample)
    candidates = _whole_model_candidates(args, space, resolutions)
    networks = expand_names(args.whole_models_include or "")
    chosen = {s.key for s in specs}
    for_models = (
        []
        if args.no_layers
        else (
            [] if transfer else [s for a in candidates for s in a.layers() if s.key not in chosen]
        )
        + [s for s in _network_layers(networks, resolutions) if s.key not in chosen]
    )
    for_models = list({s.key: s for s in for_models}.values())
    specs += for_models
    if args.dry_run:
        for r, layer_list in wanted.items():
            print(f"resolution {r}: {len(layer_list)} unique layers")
        print(
            f"total: {len({s.key for v in wanted.values() for s in v})} unique layers"
            + (
                " (a layer shared by several resolutions, e.g. the classifier, counts once)"
                if len(wanted) > 1
                else ""
            )
            + (f", {len(specs) - len(for_models)} after --limit" if args.limit is not None else "")
            + (f", {len(specs)} to time (--sample), the rest transferred" if transfer else "")
            + (
                f", and {len(for_models)} more that the whole models' architectures"
                + (f" and {len(networks)} torchvision networks" if networks else "")
                + " need"
                if for_models
                else ""
            )
        )
        return 0
    correct = not args.no_drift_correction and backend_class(args.backend).interleaves_reference
    settings = ProfileSettings(
        warmup=args.warmup,
        runs=args.runs,
        ci_tolerance=args.ci_tolerance,
        cv_threshold=args.cv_threshold,
        reference_every=args.reference_every,
        seed=args.seed,
        drift_correction=correct,
        export_workers=args.export_workers,
    )
    progress = not args.no_progress and not several_phones(args)  # one bar per process

    def fill(backend, store, out: str) -> bool:
        """Fill one LUT; True when some rows failed."""
        record_in_lut(store, [space])  # the LUT knows its space (a changed one is refused)
        adopt_lut_spaces(store)  # and its other spaces' whole models decode
        if transfer is not None:
            transfer.check_target(store)  # one source per file, refused before any timing
        todo = specs + (_missing_model_layers(store) if args.fill_models else [])
        todo = list({s.key: s for s in todo}.values())  # a layer of several resolutions: once
        extra = f" ({len(for_models)} for the whole models' architectures)" if for_models else ""
        if args.fill_models:
            extra = f" (the layers {out}'s whole models lack)"
        failed = False
        if not args.no_layers:
            print(f"profiling {len(todo)} layers into {out} with {args.backend}{extra}")
            report = profile_layers(backend, store, todo, settings, progress)
            _print_report("layers", report)
            failed = bool(report.failed)
        if transfer is not None:
            apply_and_report(transfer, store)
        if args.whole_models:
            if args.whole_models_sampling == "latency":
                archs = latency_stratified_archs(
                    space,
                    args.whole_models,
                    lookup_with_transferred(store) if transfer else store.latency_ms,
                    args.seed,
                    tuple(resolutions),
                )
            else:
                archs = candidates
            report = profile_models(backend, store, archs, settings, progress)
            _print_report("whole models", report)
            failed |= bool(report.failed)
        if networks:
            from predictor.named_networks import torchvision_graph

            report = profile_networks(
                backend,
                store,
                networks,
                resolutions,
                settings,
                layers_of=torchvision_graph,
                progress=progress,
            )
            _print_report("torchvision networks", report)
            failed |= bool(report.failed)
        moved = f" measured, {transferred_count(store)} transferred" if transfer else ""
        print(f"{out}: {store.layer_count()} layers{moved}, {len(store.model_keys())} whole models")
        quality = assess_store(store)
        lines = quality_lines(quality, out, settings.runs)
        if several_phones(args):  # the phones' reports interleave: say whose each line is
            lines = [f"[{backend.serial}] {line.strip()}" for line in lines]
        print("\n".join(lines))
        return failed

    server_was_up = args.backend != "adb" or _adb_server_up()
    try:
        if several_phones(args):  # one thread and one LUT per phone (profiler.multi)
            return run_phones(args, _backend_options(args), out, settings.identity(), fill)
        backend = get_backend(args.backend, **_backend_options(args))
        with backend:
            store = backend.open_lut(out, settings.identity(), resume=not args.no_resume)
            with store:
                failed = fill(backend, store, out)
        return 1 if failed else 0
    finally:
        if not server_was_up and _adb_server_up():
            print(
                "note: no adb server was running, so one was started; like after `adb devices` "
                "it keeps running (stop it with `adb kill-server`)",
                file=sys.stderr,
            )


def _adb_server_up() -> bool:
    """Whether an adb server answers at its address (adb's own environment variables)."""
    import socket

    from profiler.adb.client import server_address

    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(server_address()) == 0


@user_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="profile-device",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
