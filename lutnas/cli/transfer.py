"""``profile-device --transfer-from SOURCE.lut --sample K``: time K chosen layers of the table on
this device and move the rest from a LUT of another device, backend or precision
(:mod:`predictor.transfer`; the moved rows are marked, :mod:`lut.transferred`).

The options are declared and checked here so that ``lutnas.cli.profile`` only asks for a plan
and applies it once the sample is measured.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lut.spec import LayerSpec
from lut.store import LutStore
from lut.transferred import transferred_ms
from lutnas.cli_util import bounded
from lutnas.errors import LutnasError

if TYPE_CHECKING:
    from predictor.transfer import TransferPlan


def add_transfer_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--transfer-from",
        metavar="SOURCE.lut",
        help="a LUT of the same space from another device, backend or precision: time only "
        "--sample K chosen layers here and transfer the rest from it (rows marked as "
        "transferred; measuring them later replaces them; docs/transferring.md)",
    )
    p.add_argument(
        "--sample",
        type=bounded(int, 1),
        metavar="K",
        help="with --transfer-from: how many layers to time here (a bigger K on the same --out "
        "times only the new ones and refits the map)",
    )


def check_transfer_args(args: argparse.Namespace, out: str) -> None:
    """Refuse option combinations a transfer cannot honour, before anything is timed.

    Raises:
        LutnasError: naming the options and what to do.
    """
    if args.sample is not None and not args.transfer_from:
        raise LutnasError("--sample K chooses layers to transfer from: give --transfer-from too")
    if not args.transfer_from:
        return
    if args.sample is None:
        raise LutnasError(
            "--transfer-from needs --sample K, the number of layers to time on this device "
            "(e.g. --sample 400; docs/transferring.md)"
        )
    clashes = [
        flag
        for flag, on in (
            ("--limit", args.limit is not None),
            ("--fill-models", args.fill_models),
            ("--no-layers", args.no_layers),
        )
        if on
    ]
    if clashes:
        raise LutnasError(
            f"--transfer-from chooses which layers to time itself; drop {', '.join(clashes)}"
        )
    if Path(args.transfer_from).resolve() == Path(out).resolve():
        raise LutnasError(
            f"--transfer-from {args.transfer_from} is the --out file itself; transfer from "
            "another device's LUT"
        )


def plan(args: argparse.Namespace, table: list[LayerSpec]) -> TransferPlan:
    """The layers to time for ``table`` (the whole table the LUT should hold)."""
    from predictor.transfer import plan_transfer  # numpy, xgboost: only when transferring

    return plan_transfer(args.transfer_from, table, args.sample, args.seed)


def apply_and_report(transfer: TransferPlan, store: LutStore) -> None:
    """Fit the map on what the file has measured and write the transferred rows; print how."""
    result = transfer.apply(store)
    for line in result.lines():
        print(line)
    if transfer.lacking:
        print(
            f"  {len(transfer.lacking)} layers of the table are in neither the source nor "
            "the sample; lutnas fit estimates them (or profile them without --transfer-from)"
        )


def lookup_with_transferred(store: LutStore):
    """``store.latency_ms`` that also answers from transferred rows (for latency-stratified
    whole models)."""

    def lookup(keys) -> dict[str, float]:
        keys = list(keys)
        moved = transferred_ms(store)
        return {**{k: moved[k] for k in keys if k in moved}, **store.latency_ms(keys)}

    return lookup
