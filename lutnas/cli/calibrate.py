"""``lutnas calibrate``: a predictor for a new device from a handful of measured networks.

    lutnas calibrate --predictor host.predictor --measurements pixel7.csv \\
        --device "Pixel 7" --out pixel7.predictor

The CSV has a header and the columns ``model`` (a named architecture such as mnasnet-a1, a
torchvision model name such as mobilenet_v2, or the path of an architecture JSON file),
``resolution`` (input size in pixels) and ``latency_ms`` (the network's latency measured on the
target: batch 1, the median of repeated runs). A row that cannot be used is an error naming it.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path

from lutnas.cli.options import add_space_file_option, load_spaces
from lutnas.errors import LutnasError

COLUMNS = ("model", "resolution", "latency_ms")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--predictor", required=True, help="the source predictor (lutnas fit)")
    p.add_argument(
        "--measurements",
        required=True,
        metavar="FILE.csv",
        help="networks measured on the target: columns " + ", ".join(COLUMNS),
    )
    p.add_argument("--device", required=True, help="the target device's name, e.g. 'Pixel 7'")
    p.add_argument(
        "--precision",
        choices=("fp32", "fp16", "int8"),
        help="the precision the networks were measured in (default: the predictor's; another "
        "is allowed, with a warning: the transfer case)",
    )
    p.add_argument(
        "--delegate",
        choices=("xnnpack", "gpu", "nnapi", "none"),
        help="the delegate they ran on (default: the predictor's)",
    )
    p.add_argument("--out", required=True, help="the calibrated predictor directory to write")
    add_space_file_option(p, "the measured architectures (named or JSON)")


def read_measurements(path: str | Path) -> list[tuple]:
    """``(network, resolution, latency_ms)`` items of a measurements CSV, each checked.

    Raises:
        LutnasError: a missing file or column, or a row that cannot be used (named by line).
    """
    path = Path(path)
    if not path.is_file():
        raise LutnasError(f"measurements file {path} does not exist")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise LutnasError(
                f"{path}: missing column(s) {', '.join(missing)}; the header must name "
                + ", ".join(COLUMNS)
            )
        items = [_item(path, line, row) for line, row in enumerate(reader, start=2)]
    if not items:
        raise LutnasError(f"{path} holds no measurements")
    return items


def _item(path: Path, line: int, row: dict) -> tuple:
    where = f"{path}:{line} ({','.join(str(row.get(c, '')) for c in COLUMNS)})"
    try:
        resolution = int(row["resolution"])
        latency_ms = float(row["latency_ms"])
    except (TypeError, ValueError):
        raise LutnasError(
            f"{where}: resolution must be a whole number and latency_ms a number"
        ) from None
    model = (row["model"] or "").strip()
    if model.endswith(".json"):
        from lutnas.spaces.io import load_archs

        json_path = Path(model) if Path(model).is_absolute() else path.parent / model
        try:
            (arch,) = load_archs(json_path)
        except ValueError:
            raise LutnasError(f"{where}: {json_path} must hold exactly one architecture") from None
        except LutnasError as exc:
            raise LutnasError(f"{where}: {exc}") from None
        return (dataclasses.replace(arch, resolution=resolution), latency_ms)
    return (model, resolution, latency_ms)


def run(args: argparse.Namespace) -> int:
    from predictor import LatencyPredictor

    load_spaces(args.space)
    source = LatencyPredictor.load(args.predictor)  # its stored spaces become known
    items = read_measurements(args.measurements)
    target = source.calibrate(
        items, device=args.device, precision=args.precision, delegate=args.delegate
    )
    path = target.save(args.out)
    c = target.calibration
    names = {"shrunk": "this map", "scale": "one factor alone"}
    tried = (
        ", ".join(f"{names.get(k, k)} {v:.1f}%" for k, v in c.loo_rmspe.items() if v is not None)
        or "none (one measurement)"
    )
    print(f"{path}: {target.describe()}")
    print(f"  leave-one-out RMSPE: {tried}")
    return 0
