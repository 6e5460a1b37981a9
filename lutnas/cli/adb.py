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
from lutnas.cli_util import bounded
from lutnas.errors import LutnasError
from profiler.adb.batch import DEFAULT_BATCH_SIZE
from profiler.adb.thermal import CoolingPolicy
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
        "fastest core by cpuinfo_max_freq, e.g. 80 for cpu7; needed when cores are offline "
        "or hidden)",
    )
    g.add_argument(
        "--runner-timeout",
        type=bounded(float, 0, 86_400, above=True),
        metavar="SECONDS",
        help="limit of one runner call; past it the runner is killed on the phone and the "
        "layer fails (default: 30 s plus 1 s per run, or 5x the slowest run seen)",
    )
    g.add_argument(
        "--phone-batch",
        type=bounded(int, 1, 1000),
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help="layers timed per push and shell: their model files pushed together, the runner "
        "run on each in turn in one shell, each row saved as soon as its run ends "
        "(default: %(default)s; 1: each layer on its own)",
    )
    g.add_argument(
        "--allow-runner-change",
        action="store_true",
        help="resume a LUT measured with another version of the runner (the change is "
        "recorded in the LUT and on every new row)",
    )
    g.add_argument(
        "--hot-temp-c",
        type=bounded(float, 20, 150),
        default=CoolingPolicy.hot_temp_c,
        metavar="C",
        help="pause while a watched thermal zone is above this (default: %(default)s)",
    )
    g.add_argument(
        "--thermal-zone",
        action="append",
        default=[],
        metavar="NAME",
        help="watch only thermal zones whose type or name contains NAME (repeatable, e.g. "
        "cpu; default: every zone)",
    )
    g.add_argument(
        "--max-cool-wait",
        type=bounded(float, 0, 86_400),
        default=CoolingPolicy.max_wait_s,
        metavar="SECONDS",
        help="longest pause to cool down; a zone still hot after it is left out for the rest "
        "of the run (default: %(default)s)",
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
        "runner_timeout_s": args.runner_timeout,
        "batch_size": args.phone_batch,
        "allow_runner_change": args.allow_runner_change,
        "cooling": CoolingPolicy(
            hot_temp_c=args.hot_temp_c,
            zones=tuple(args.thermal_zone),
            max_wait_s=args.max_cool_wait,
            step_s=min(CoolingPolicy.step_s, max(1.0, args.max_cool_wait)),
        ),
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
    phones = f"{len(serials)} phones in parallel" if len(serials) > 1 else "1 phone"
    print(f"profiling {phones}: {', '.join(serials)}")
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
