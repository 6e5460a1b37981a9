"""``lutnas export``: an architecture as the ``.tflite`` file a phone runs.

lutnas export --arch mnasnet-a1 --precision int8 --out a1_int8.tflite
lutnas export --arch-json search_out/best_arch.json --precision fp16 --delegate gpu --out b.tflite
lutnas export --space my_space.toml --arch my-net --precision int8 --out my_net_int8.tflite

The file is the one the TFLite backends time (batch 1, NHWC input, random weights; int8 fully
quantized with int8 input and output, fp32 for fp32 and fp16). It prints the benchmark_model
command that times it like a LUT of that precision and delegate.
"""

from __future__ import annotations

import argparse
import dataclasses

from lutnas.cli.options import add_space_file_option, load_spaces
from lutnas.cli_util import bounded
from lutnas.errors import LutnasError
from lutnas.spaces.io import load_archs
from lutnas.spaces.named import get_named_arch, list_named_archs
from profiler.precision import DEFAULT_DELEGATE, DEFAULT_PRECISION, DELEGATES, PRECISIONS


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--arch", help=f"named architecture: {', '.join(list_named_archs())}")
    what.add_argument("--arch-json", metavar="FILE", help="one architecture's JSON file")
    p.add_argument(
        "--resolution",
        type=bounded(int, 32, 2048),
        help="input size (default: the architecture's own)",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=DEFAULT_PRECISION,
        help="int8: fully quantized; fp32 and fp16: the fp32 file (fp16 is a run-time mode) "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--delegate",
        choices=DELEGATES,
        default=DEFAULT_DELEGATE,
        help="the delegate the printed benchmark_model command uses (default: %(default)s)",
    )
    p.add_argument("--out", required=True, metavar="FILE.tflite", help="the file to write")
    add_space_file_option(p, "the --arch or --arch-json architecture")


def run(args: argparse.Namespace) -> int:
    from lutnas.cli.phone_file import phone_file_line
    from profiler.adb.delegates import check_combination
    from profiler.deploy import write_tflite

    if not args.out.endswith(".tflite"):
        raise LutnasError(f"--out {args.out!r} must name a .tflite file")
    check_combination(args.precision, args.delegate, "benchmark_model")
    load_spaces(args.space)  # a space file's named architectures and JSON become known
    if args.arch:
        arch = get_named_arch(args.arch)
    else:
        archs = load_archs(args.arch_json)
        if len(archs) != 1:
            raise LutnasError(
                f"{args.arch_json} holds {len(archs)} architectures; give a file with one"
            )
        arch = archs[0]
    if args.resolution:
        arch = dataclasses.replace(
            arch, resolution=arch.space_obj.check_resolution(args.resolution)
        )
    path = write_tflite(arch, args.out, args.precision)
    config = {"precision": args.precision, "delegate": args.delegate}
    print(f"{path}: {arch.key} at {arch.resolution}x{arch.resolution}")
    print(phone_file_line(path, config))
    return 0
