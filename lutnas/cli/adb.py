"""The adb part of ``profile-device``: its options, and profiling several phones at once.

profile-device --backend adb --runner ./benchmark_model                     # the one phone
profile-device --backend adb --runner ./benchmark_model --serial R58M1 --serial 8A3X
profile-device --backend adb --runner ./onnxruntime_perf_test --all-devices --out '{serial}.lut'
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from lut.store import LutStore
from lutnas.errors import LutnasError
from profiler.base import Backend, get_backend
from profiler.multi import attached_serials, profile_phones


def add_adb_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("phones (--backend adb)")
    g.add_argument(
        "--serial",
        action="append",
        default=[],
        help="adb serial of the phone (repeat to profile several in parallel)",
    )
    g.add_argument(
        "--all-devices",
        action="store_true",
        help="profile every attached phone in parallel, one LUT each",
    )
    g.add_argument(
        "--runner",
        help="the benchmark binary built for the phone: TFLite/LiteRT's "
        "benchmark_model (recommended; published prebuilt for android_arm64) or "
        "onnxruntime_perf_test; pushed once",
    )
    g.add_argument(
        "--runner-kind",
        choices=["benchmark_model", "onnxruntime_perf_test"],
        help="which runner --runner is (default: guessed from its file name, else "
        "from its --help text on the phone)",
    )
    g.add_argument(
        "--cpu-mask",
        help="taskset hex mask of the cores to pin to (default: the "
        "fastest core by cpuinfo_max_freq, e.g. 80 for cpu7)",
    )


def adb_backend_options(args: argparse.Namespace) -> dict:
    """Options of ``AdbBackend`` from the command line (the serial is set per phone)."""
    if not args.runner:
        raise LutnasError(
            "--backend adb needs --runner PATH: TFLite's benchmark_model (or "
            "onnxruntime_perf_test) built for the phone (see docs/phone.md)"
        )
    serial = args.serial[0] if len(args.serial) == 1 else None
    return {
        "serial": serial,
        "runner": args.runner,
        "runner_kind": args.runner_kind,
        "cpu_mask": args.cpu_mask,
    }


def several_phones(args: argparse.Namespace) -> bool:
    return args.backend == "adb" and (args.all_devices or len(args.serial) > 1)


def run_phones(
    args: argparse.Namespace,
    options: dict,
    out: str,
    settings: dict,
    fill: Callable[[Backend, LutStore, str], bool],
) -> int:
    """Profile every phone asked for in parallel; ``fill(backend, store, out)`` fills one LUT
    and returns True when rows failed. Returns the exit status."""
    serials = attached_serials(args.serial, args.all_devices)
    print(f"profiling {len(serials)} phones in parallel: {', '.join(serials)}")
    outcomes = profile_phones(
        serials,
        lambda s: get_backend("adb", **{**options, "serial": s}),
        out,
        settings,
        lambda backend, store: fill(backend, store, str(store.path)),
        resume=not args.no_resume,
    )
    status = 0
    for o in outcomes:
        if o.ok:
            note = " (some rows failed)" if o.result else ""
            print(f"phone {o.serial}: done -> {o.out}{note}")
            status = max(status, 1 if o.result else 0)
        else:
            print(f"phone {o.serial}: {'LOST' if o.lost else 'FAILED'}: {o.error}", file=sys.stderr)
            status = 1
    return status
