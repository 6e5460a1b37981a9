#!/usr/bin/env python3
"""A stand-in for ``onnxruntime_perf_test`` that the emulated phone runs.

Same command line as the real tool (the subset lutnas uses)::

    onnxruntime_perf_test -m times -r RUNS -x INTRA -y INTER [-e cpu] [-o LEVEL] [-I] [-s]
                          model.onnx [result_file]

and the same stdout as recent releases (``performance_runner.cc``): a summary block, then with
``-s`` the ``Min/Max/P50/.../P999 Latency: X s`` lines. Like the real tool it does one untimed
warm-up run, needs ``-I`` when the model has no ``test_data_set_*`` directory beside it, and
exits non-zero on bad arguments. The model is timed with onnxruntime on the host.

Faults for tests (environment): ``ADBEMU_RUNNER_FAULT=crash`` dies with SIGSEGV midway,
``ADBEMU_RUNNER_FAULT=garbage`` prints nonsense and exits 0.
"""

from __future__ import annotations

import os
import signal
import sys
import time

USAGE = ("perf_test [options...] model_path [result_file]\n"
         "Options:\n\t-m [test_mode]: 'duration' or 'times'.\n\t-r [repeated_times]\n"
         "\t-x [intra_op_num_threads]\n\t-y [inter_op_num_threads]\n\t-e [cpu]\n"
         "\t-o [optimization level]\n\t-I: Generate tensor input binding\n"
         "\t-s: Show statistics result\n")
_WITH_VALUE = set("mrxyeo")
_FLAGS = set("Is")
_NUMPY_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64",
                "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(uint8)": "uint8"}


def _g(x: float) -> str:
    """C++ ostream's default formatting of a double (6 significant digits)."""
    return f"{x:.6g}"


def parse_args(argv: list[str]) -> tuple[dict[str, str], list[str]] | None:
    opts: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and len(arg) == 2 and arg[1] in _WITH_VALUE | _FLAGS:
            if arg[1] in _FLAGS:
                opts[arg[1]] = "1"
            elif i + 1 < len(argv):
                opts[arg[1]] = argv[i + 1]
                i += 1
            else:
                return None
        elif arg.startswith("-"):
            return None
        else:
            positional.append(arg)
        i += 1
    if not 1 <= len(positional) <= 2 or opts.get("m", "times") not in ("times", "duration"):
        return None
    return opts, positional


def _session(model: str, opts: dict[str, str]):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(opts.get("x", "0"))
    so.inter_op_num_threads = int(opts.get("y", "0"))
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = {
        "0": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "1": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "2": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    }.get(opts.get("o", "99"), ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def _feeds(session) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    feeds = {}
    for inp in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
        dtype = _NUMPY_TYPES.get(inp.type, "float32")
        feeds[inp.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def main(argv: list[str]) -> int:
    parsed = parse_args(argv)
    if parsed is None:
        print(USAGE)
        return 255
    opts, (model, *rest) = parsed
    result_file = rest[0] if rest else ""
    fault = os.environ.get("ADBEMU_RUNNER_FAULT", "")
    if fault == "garbage":
        print("\x1b[31m@@@ GPU hang detected @@@\nlatency: ???\nAverage inference time cost: nan")
        return 0
    if not os.path.exists(model):
        print(f"{model}: No such file or directory", file=sys.stderr)
        return 255
    model_dir = os.path.dirname(os.path.abspath(model))
    has_data = any(n.startswith("test_data_set_") for n in os.listdir(model_dir))
    if "I" not in opts and not has_data:
        name = os.path.basename(model_dir)
        print(f"there is no test data for model {name}")
        print("Error: failed to initialize.", file=sys.stderr)
        return 255

    start = time.perf_counter()
    session = _session(model, opts)
    created_s = time.perf_counter() - start
    feeds = _feeds(session)
    start = time.perf_counter()
    session.run(None, feeds)  # the tool's single warm-up run
    first_ms = int((time.perf_counter() - start) * 1000)
    if fault == "crash":
        sys.stdout.write(f"Session creation time cost: {_g(created_s)} s\n")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGSEGV)

    runs = int(opts.get("r", "1000"))
    costs_s = []
    run_start = time.perf_counter()
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, feeds)
        costs_s.append(time.perf_counter() - t0)
    run_s = time.perf_counter() - run_start
    total_s = sum(costs_s)
    print(f"Session creation time cost: {_g(created_s)} s\n"
          f"First inference time cost: {first_ms} ms\n"
          f"Total inference time cost: {_g(total_s)} s\n"
          f"Total inference requests: {runs}\n"
          f"Average inference time cost: {_g(total_s / runs * 1000)} ms\n"
          f"Total inference run time: {_g(run_s)} s\n"
          f"Number of inferences per second: {_g(runs / run_s)} \n"
          f"Avg CPU usage: 97 %\n"
          f"Peak working set size: 41283584 bytes")
    stats = []
    if "s" in opts:
        ordered = sorted(costs_s)
        for label, q in (("Min", 0.0), ("Max", 1.0), ("P50", 0.5), ("P90", 0.9), ("P95", 0.95),
                         ("P99", 0.99), ("P999", 0.999)):
            value = ordered[min(int(runs * q), runs - 1)]
            stats.append(f"{label} Latency: {_g(value)} s")
    if result_file:  # one row per timed run, appended, then the statistics
        with open(result_file, "a") as f:
            name = os.path.basename(model_dir)
            for i, cost in enumerate(costs_s):
                f.write(f"{name},{_g(cost)},41283584,97,{i}\n")
            if stats:
                f.write("\n" + "\n".join(stats) + "\n")
    else:
        print(f"Avg CPU usage:97\nPeak working set size:41283584\nRuns:{runs}")
    if "s" in opts:
        print("\n".join(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
