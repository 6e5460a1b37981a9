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
import io
from pathlib import Path

from lutnas.cli.options import add_space_file_option, load_spaces
from lutnas.errors import LutnasError
from lutnas.spaces.base import MAX_RESOLUTION, MIN_RESOLUTION

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
    p.add_argument(
        "--lut",
        help="also use this LUT's rows (the predictor's configuration; default: the LUT it "
        "was fitted on, when it is on this machine: the rows it gained since are used)",
    )
    add_space_file_option(p, "the measured architectures (named or JSON)")


def read_measurements(path: str | Path) -> tuple[list[tuple], list[str]]:
    """``(network, resolution, latency_ms)`` items of a measurements CSV, each checked, and
    where each came from (``FILE:LINE``).

    Raises:
        LutnasError: a missing or unreadable file, a missing column (the header found is
            shown), or a row that cannot be used; every message names the file and line.
    """
    path = Path(path)
    text = _text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise LutnasError(
            f"{path}:1: missing column(s) {', '.join(missing)}; the header found is "
            f"{','.join(reader.fieldnames or [])!r}, it must name " + ", ".join(COLUMNS)
        )
    reader.fieldnames = header  # names as written, spaces around them dropped
    items, sources = [], []
    for row in reader:
        where = f"{path}:{reader.line_num}"
        items.append(_item(path, where, row))
        sources.append(where)
    if not items:
        raise LutnasError(f"{path} holds no measurements (a header and no rows)")
    return items, sources


def _text(path: Path) -> str:
    """The file as text (UTF-8, a byte-order mark dropped); bytes that are not UTF-8 are an
    error naming their line."""
    if path.is_dir():
        raise LutnasError(f"measurements file {path} is a directory; give the CSV file")
    if not path.is_file():
        raise LutnasError(f"measurements file {path} does not exist")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LutnasError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); is it the "
            "measurements CSV? Save it as UTF-8 CSV"
        ) from None


def _item(path: Path, where: str, row: dict) -> tuple:
    shown = ",".join(str(row.get(c) or "") for c in COLUMNS)
    model = (row["model"] or "").strip()
    text = (row["resolution"] or "").strip()
    try:
        latency_ms = float(row["latency_ms"])
        resolution = int(text) if text else None
    except (TypeError, ValueError):
        raise LutnasError(
            f"{where} ({shown}): resolution must be a whole number and latency_ms a number"
        ) from None
    if not model:
        raise LutnasError(f"{where} ({shown}): the model column is empty")
    if resolution is not None and not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise LutnasError(
            f"{where} ({shown}): resolution must be from {MIN_RESOLUTION} to "
            f"{MAX_RESOLUTION} pixels, got {resolution}"
        )
    if model.endswith(".json"):
        return (_json_arch(path, where, shown, model, resolution), latency_ms)
    if resolution is None:
        raise LutnasError(f"{where} ({shown}): give the resolution the network was measured at")
    return (model, resolution, latency_ms)


def _json_arch(path: Path, where: str, shown: str, model: str, resolution: int | None):
    """The one architecture of a JSON file; an empty resolution column takes the file's, a
    different one is an error (which of the two was measured?)."""
    from lutnas.spaces.io import load_archs

    json_path = Path(model) if Path(model).is_absolute() else path.parent / model
    try:
        (arch,) = load_archs(json_path)
    except ValueError:
        raise LutnasError(f"{where}: {json_path} must hold exactly one architecture") from None
    except LutnasError as exc:
        raise LutnasError(f"{where}: {exc}") from None
    if resolution is not None and resolution != arch.resolution:
        raise LutnasError(
            f"{where} ({shown}): the row says {resolution} px, {json_path} holds an "
            f"architecture at {arch.resolution} px; make them agree (leave the resolution "
            "empty to take the file's)"
        )
    return arch


def run(args: argparse.Namespace) -> int:
    from lutnas.cli.loading import load_predictor

    load_spaces(args.space)
    source = load_predictor(args.predictor, args.lut)  # its stored spaces become known
    items, sources = read_measurements(args.measurements)
    target = source.calibrate(
        items,
        device=args.device,
        sources=sources,
        precision=args.precision,
        delegate=args.delegate,
    )
    path = target.save(args.out)
    c = target.calibration
    names = {"shrunk": "the shrunk map", "scale": "one factor alone"}
    tried = (
        ", ".join(
            f"{names.get(k, k)}{' (kept)' if k == c.kind else ''} {v:.1f}%"
            for k, v in c.loo_rmspe.items()
            if v is not None
        )
        or "none (one measurement)"
    )
    print(f"{path}: {target.describe()}")
    print(f"  leave-one-out RMSPE: {tried}")
    print(f"  {c.choice()}")
    return 0
