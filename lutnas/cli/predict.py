"""``lutnas predict``: the latency of one network, with its interval and caveats.

lutnas predict --predictor host.predictor --arch mnasnet-a1
lutnas predict --predictor host.predictor --arch-json arch.json
lutnas predict --predictor host.predictor --torchvision mobilenet_v2 --measure-missing
lutnas predict --predictor host.predictor --space my_space.toml --arch my-net
"""

from __future__ import annotations

import argparse
import json
import sys

from lutnas.cli.options import add_space_file_option, load_spaces
from lutnas.cli_util import bounded
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
        help="use (and, with --measure-missing, extend) this LUT's rows; it "
        "must have the predictor's backend configuration",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse layers missing from the LUT instead of estimating them",
    )
    p.add_argument(
        "--measure-missing",
        action="store_true",
        help="measure missing rows on this machine with the LUT's backend",
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
    from predictor.api import LatencyPredictor  # torch, xgboost: only when predicting
    from predictor.prediction import MissingRowsError

    load_spaces(args.space)  # before the predictor's own: a differing file is refused
    try:
        return _predict(LatencyPredictor.load(args.predictor, lut=args.lut), args)
    except MissingRowsError as exc:  # in the command's terms, not Python's
        raise LutnasError(exc.for_command("--strict")) from None


def _predict(predictor, args: argparse.Namespace) -> int:
    backend = None
    if args.torchvision:
        if args.measure_missing:
            from profiler.base import host_backend

            # configured as the LUT was (threads, precision, delegate ...)
            backend = host_backend(predictor.backend_config, "--measure-missing")
        r = args.resolution
        results = [
            (
                args.torchvision,
                predictor.predict_module(
                    _torchvision(args.torchvision),
                    (1, 3, r, r),
                    backend=backend,
                    strict=args.strict,
                ),
            )
        ]
    else:
        archs = [get_named_arch(args.arch)] if args.arch else load_archs(args.arch_json)
        details = predictor.predict_details(archs, strict=args.strict)  # one vectorised call
        results = [(a.key, d) for a, d in zip(archs, details, strict=True)]
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
