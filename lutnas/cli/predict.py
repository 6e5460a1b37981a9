"""``lutnas predict``: the latency of one network, with its interval and caveats.

lutnas predict --predictor host.predictor --arch mnasnet-a1
lutnas predict --predictor host.predictor --arch-json arch.json
lutnas predict --predictor host.predictor --torchvision mobilenet_v2 --measure-missing
lutnas predict --predictor host.predictor --space my_space.toml --arch my-net
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from lutnas.cli.options import add_space_file_option, load_spaces
from lutnas.cli_util import bounded, quote
from lutnas.errors import LutnasError
from lutnas.spaces.io import load_archs
from lutnas.spaces.named import get_named_arch, list_named_archs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--predictor", required=True, help="directory written by lutnas fit")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--arch", help=f"named architecture: {', '.join(list_named_archs())}")
    what.add_argument("--arch-json", metavar="FILE", help="architecture JSON (one or a list)")
    what.add_argument(
        "--torchvision",
        metavar="NAME",
        help="a torchvision classification model, e.g. mobilenet_v2 (random "
        "weights, nothing is downloaded)",
    )
    p.add_argument(
        "--resolution",
        type=bounded(int, 32, 2048),
        default=224,
        help="input size for --torchvision (default: %(default)s)",
    )
    p.add_argument(
        "--lut",
        help="use (and, with --measure-missing, extend) this LUT's rows; it must have the "
        "predictor's backend configuration (default: the LUT it was fitted on, when it is on "
        "this machine: the rows it gained since are used)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse layers missing from the LUT instead of estimating them",
    )
    p.add_argument(
        "--measure-missing",
        action="store_true",
        help="measure missing rows on this machine with the LUT's backend and add them to the "
        "predictor's LUT (or --lut); later predictions use them without refitting",
    )
    add_space_file_option(p, "the --arch or --arch-json architectures")
    p.add_argument("--json", action="store_true", help="print JSON")


def _torchvision(name: str):
    import torchvision.models as tvm

    try:
        builder = tvm.get_model_builder(name)
    except ValueError:
        raise LutnasError(
            f"torchvision has no model {name!r}; e.g. mobilenet_v2, "
            "mobilenet_v3_large, mnasnet1_0, efficientnet_b0"
        ) from None
    return builder(weights=None)


def run(args: argparse.Namespace) -> int:
    from lutnas.cli.loading import load_predictor
    from predictor.prediction import MissingRowsError

    load_spaces(args.space)  # before the predictor's own: a differing file is refused
    predictor = load_predictor(args.predictor, args.lut)
    backend = None
    if args.measure_missing:
        from profiler.base import host_backend

        # configured as the LUT was (threads, precision, delegate ...)
        backend = host_backend(predictor.backend_config, "--measure-missing")
    try:
        results = _predict(args, predictor, backend)
    except MissingRowsError as exc:
        raise LutnasError(_strict_advice(args, predictor, exc.keys)) from None
    for name, pred in results:
        if args.json:
            print(
                json.dumps(
                    {"network": name, **{k: v for k, v in pred.__dict__.items() if k != "layers"}},
                    default=list,
                )
            )
        else:
            print(f"{name}\n  {pred.summary()}")
    if backend is not None:
        _report_measured(predictor.lut_path, sum(len(p.measured_keys) for _, p in results))
    return 0


def _predict(args: argparse.Namespace, predictor, backend) -> list[tuple[str, object]]:
    """``(name, Prediction)`` of each network asked for; with ``backend``, missing rows are
    measured first."""
    if args.torchvision:
        r = args.resolution
        module = _torchvision(args.torchvision)
        pred = predictor.predict_module(module, (1, 3, r, r), backend=backend, strict=args.strict)
        return [(args.torchvision, pred)]
    archs = [get_named_arch(args.arch)] if args.arch else load_archs(args.arch_json)
    measured = [predictor.measure_missing(a.layers(), backend) if backend else () for a in archs]
    details = predictor.predict_details(archs, strict=args.strict)  # one vectorised call
    return [
        (a.key, dataclasses.replace(d, measured_keys=m))
        for a, d, m in zip(archs, details, measured, strict=True)
    ]


def _strict_advice(args: argparse.Namespace, predictor, keys: tuple[str, ...]) -> str:
    """--strict's refusal in this command's terms: which rows, how to measure them into the
    predictor's LUT (the next lutnas predict uses them), or how to estimate them instead."""
    from predictor.prediction import shown_keys

    if args.torchvision:
        network = args.torchvision
        how = (
            "measure them on this machine with the same command and --measure-missing (they "
            f"are added to {quote(predictor.lut_path) if predictor.lut_path else 'the LUT'})"
        )
    else:
        what = f"--arch {args.arch}" if args.arch else f"--archs {quote(args.arch_json)}"
        space = (get_named_arch(args.arch) if args.arch else load_archs(args.arch_json)[0]).space
        command = predictor.profile_command(profile_space_option(args.space, space) + what)
        network = args.arch or args.arch_json
        how = (
            f"measure them into the predictor's LUT with: {command} (or add --measure-missing "
            "to this command); lutnas predict uses them from then on"
        )
    return (
        f"{len(keys)} layer(s) of {network} are not in the LUT and --strict refuses to "
        f"estimate them: {shown_keys(keys)}. To {how}. Or drop --strict to estimate them "
        "(the prediction then reports its estimated share)."
    )


def profile_space_option(given: list[str], space: str) -> str:
    """profile-device's ``--space`` for architectures of ``space``: none for mnasnet (its
    default), the name of another built-in space, the file given with ``--space`` for a space
    from a file (profile-device knows no other space by name)."""
    from lutnas.spaces.registry import BUILTIN_SPACES
    from lutnas.spaces.spacefile import is_space_path, read_space_file

    if space == "mnasnet":
        return ""
    if space in BUILTIN_SPACES:
        return f"--space {space} "
    files = [f for f in given if is_space_path(f) and read_space_file(f).name == space]
    return f"--space {quote(files[0]) if files else 'PATH.toml'} "


def _report_measured(lut_path: str | None, rows: int) -> None:
    """Name the file --measure-missing added rows to (stderr, so --json stays parseable)."""
    from pathlib import Path

    if not rows:
        where = f" ({lut_path} unchanged)" if lut_path else ""
        print(f"--measure-missing: no row was missing{where}", file=sys.stderr)
    elif lut_path and Path(lut_path).is_file():
        print(f"--measure-missing: {rows} rows measured and added to {lut_path}", file=sys.stderr)
    else:
        print(
            f"--measure-missing: {rows} rows measured for this prediction only: the LUT file "
            f"{lut_path or '(none recorded)'} does not exist here; give --lut FILE to keep them",
            file=sys.stderr,
        )
