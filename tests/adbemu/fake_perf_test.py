#!/usr/bin/env python3
"""A stand-in for ``onnxruntime_perf_test`` that the emulated phone runs.

Same command line as the real tool (the subset lutnas uses)::

    onnxruntime_perf_test -m times -r RUNS -x INTRA -y INTER [-e cpu] [-o LEVEL] [-I] [-s] [-Z]
                          model.onnx [result_file]

and the same output as the release chosen by ``ADBEMU_PERF_TEST_RELEASE`` (sources:
tests/data/transcripts/SOURCES.md):

``current`` (default; 1.23+, Abseil flags)
    ``Average inference time cost total: 2.395440 ms`` (PR #25895), result-file rows
    ``model,submit_s,total_s,peak,cpu,run`` (PR #26313); ``--help`` prints Abseil's usage
    (exit 1), a missing model path or ``-h`` only ``See 'onnxruntime_perf_test --help'.`` on
    stderr (exit 255), an unknown flag ``ERROR: Unknown command line flag 'k'`` (exit 1).
``old`` (up to 1.22, getopt)
    ``Average inference time cost: 2.39544 ms``, rows ``model,time_s,peak,cpu,run``; ``-h``, a
    missing model path or an unknown option (``--help`` too) print the usage (exit 255).

Both print ``Setting intra_op_num_threads to N`` when ``-x`` > 0 and ``Disabling intra-op thread
spinning between runs`` with ``-Z``, do one untimed warm-up run, need ``-I`` when the model has
no ``test_data_set_*`` directory beside it, and print the ``-s`` statistics ``Min/Max/P50/.../
P999 Latency: X s`` (always on without a result file). The model is timed with onnxruntime on
the host.

Faults for tests (environment): ``ADBEMU_RUNNER_FAULT=crash`` dies with SIGSEGV midway,
``ADBEMU_RUNNER_FAULT=garbage`` prints nonsense and exits 0; ``hang``, and
older output formats: see ``runner_lib/adbemu_runner_hooks.py``.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import time

USAGE = (
    "perf_test [options...] model_path [result_file]\n"
    "Options:\n"
    "\t-m [test_mode]: Specifies the test mode. Value could be 'duration' or 'times'.\n"
    "\t\tProvide 'duration' to run the test for a fix duration, and 'times' to repeated for a "
    "certain times. \n"
    "\t-M: Disable memory pattern.\n"
    "\t-A: Disable memory arena\n"
    "\t-I: Generate tensor input binding (Free dimensions are treated as 1.)\n"
    "\t-c [parallel runs]: Specifies the (max) number of runs to invoke simultaneously. "
    "Default:1.\n"
    "\t-e [cpu|cuda|dnnl|tensorrt|openvino|dml|acl|nnapi|coreml|snpe|rocm|migraphx|xnnpack|"
    "vitisai]: Specifies the provider.\n"
    "\t-r [repeated_times]: Specifies the repeated times if running in 'times' test mode."
    "Default:1000.\n"
    "\t-s: Show statistics result, like P75, P90. If no result_file provided this defaults to "
    "on.\n"
    "\t-x [intra_op_num_threads]: Sets the number of threads used to parallelize the execution "
    "within nodes, A value of 0 means ORT will pick a default. Must >=0.\n"
    "\t-y [inter_op_num_threads]: Sets the number of threads used to parallelize the execution "
    "of the graph (across nodes), A value of 0 means ORT will pick a default. Must >=0.\n"
    "\t-o [optimization level]: Default is 99 (all). Valid values are 0 (disable), 1 (basic), "
    "2 (extended), 99 (all).\n"
    "\t-D [Disable thread spinning]: disable spinning entirely for thread owned by onnxruntime "
    "intra-op thread pool.\n"
    "\t-Z [Force thread to stop spinning between runs]: disallow thread from spinning during "
    "runs to reduce cpu usage.\n"
    "\t-h: help\n"
)
ABSL_USAGE = (
    "onnxruntime_perf_test: onnxruntime_perf_test [options...] model_path [result_file]\n\n"
    "Note: Options may be specified with either a single dash(-option) or a double "
    "dash(--option). Both forms are accepted and treated identically.\n\n"
    "Options:\n\n"
    "  Flags from /onnxruntime/onnxruntime/test/perftest/command_args_parser.cc:\n"
    "    --A (Disables memory arena.); default: true;\n"
    "    --D (Disables spinning entirely for thread owned by onnxruntime intra-op\n"
    "      thread pool.); default: false;\n"
    "    --I (Generates tensor input binding. Free dimensions are treated as 1\n"
    "      unless overridden using -f.); default: false;\n"
    "    --Z (Disallows thread from spinning during runs to reduce cpu usage.);\n"
    "      default: false;\n"
    "    --e (Specifies the provider 'cpu','cuda','dnnl','tensorrt', 'nvtensorrtrtx',\n"
    "      'openvino', 'dml', 'acl', 'nnapi', 'coreml', 'qnn', 'snpe', 'rocm',\n"
    "      'migraphx', 'xnnpack', 'vitisai' or 'webgpu'.); default: \"cpu\";\n"
    "    --m (Specifies the test mode. Value could be 'duration' or 'times'.);\n"
    '      default: "duration";\n'
    "    --o (Specifies graph optimization level. Default is 99 (all). Valid values\n"
    "      are 0 (disable), 1 (basic), 2 (extended), 3 (layout), 99 (all).);\n"
    "      default: 99;\n"
    "    --r (Specifies the repeated times if running in 'times' test mode.);\n"
    "      default: 1000;\n"
    "    --s (Shows statistics result, like P75, P90. If no result_file provided this\n"
    "      defaults to on.); default: false;\n"
    "    --x (Sets the number of threads used to parallelize the execution within\n"
    "      nodes, A value of 0 means ORT will pick a default. Must >=0.); default: 0;\n"
    "    --y (Sets the number of threads used to parallelize the execution of the\n"
    "      graph (across nodes), A value of 0 means ORT will pick a default. Must\n"
    "      >=0.); default: 0;\n\n"
    "Try --helpfull to get a list of all flags or --help=substring shows help for flags which "
    "include specified substring in either in the name, or description or path.\n"
)
SEE_HELP = "See 'onnxruntime_perf_test --help'."
# getopt's option string (command_args_parser.cc, getopt releases) and Abseil's flags (1.23+)
_GETOPT_VALUE, _GETOPT_FLAGS = set("kbmertpxycdouifFST"), set("AMPIDZvsqz")
_ABSL_VALUE = set("fFmertpxycdouiSTCR") | {
    "plugin_ep_libs",
    "plugin_eps",
    "plugin_ep_options",
    "select_ep_devices",
}
_ABSL_BOOL = set("AMsvIPqzDZnlgXh") | {"list_ep_devices"}
_NUMPY_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(uint8)": "uint8",
}


class UsageError(Exception):
    """Bad arguments: ``message`` goes to stderr (may be empty), then the release's answer."""


def _g(x: float) -> str:
    """C++ ostream's default formatting of a double (6 significant digits)."""
    return f"{x:.6g}"


def parse_getopt(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """getopt over ``argv`` (options may be bundled or take an attached value)."""
    opts: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
        else:
            j = 1
            while j < len(arg):
                c = arg[j]
                if c in _GETOPT_FLAGS:
                    opts[c] = "1"
                elif c in _GETOPT_VALUE:
                    if j + 1 < len(arg):
                        opts[c] = arg[j + 1 :]
                    elif i + 1 < len(argv):
                        i += 1
                        opts[c] = argv[i]
                    else:
                        raise UsageError(f"option requires an argument -- {c}")
                    break
                else:  # 'h' too: the usage
                    raise UsageError("" if c == "h" else f"unknown option -- {c}")
                j += 1
        i += 1
    return opts, positional


def parse_absl(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Abseil flags: ``-x 1``, ``--x=1``, bool flags ``-s``/``--s=true``."""
    opts: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            i += 1
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if name in ("help", "helpfull"):
            raise UsageError("--help")
        if name in _ABSL_BOOL:
            if not eq or value in ("true", "1"):
                opts[name] = "1"
            else:
                opts.pop(name, None)
        elif name in _ABSL_VALUE:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"ERROR: Missing the value for the flag '{name}'")
                value = argv[i]
            opts[name] = value
        else:
            raise UsageError(f"ERROR: Unknown command line flag '{name}'")
        i += 1
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


def _statistics(costs_s: list[float]) -> list[str]:
    """``DumpToFile``'s statistics: the element at ``total * q`` of the sorted run times."""
    ordered, total = sorted(costs_s), len(costs_s)
    return [f"Min Latency: {_g(ordered[0])} s", f"Max Latency: {_g(ordered[-1])} s"] + [
        f"{label} Latency: {_g(ordered[int(total * q)])} s"
        for label, q in (("P50", 0.5), ("P90", 0.9), ("P95", 0.95), ("P99", 0.99), ("P999", 0.999))
    ]


def _model_name(model: str) -> str:
    name = os.path.basename(os.path.dirname(os.path.abspath(model)))
    return name[5:] if name.startswith("test_") else name


def run(opts: dict[str, str], model: str, result_file: str, current: bool) -> int:
    """One benchmark: session, warm-up, the timed runs, the summary, the result file."""
    fault = os.environ.get("ADBEMU_RUNNER_FAULT", "")
    if fault == "garbage":
        print("\x1b[31m@@@ GPU hang detected @@@\nlatency: ???\nAverage inference time cost: nan")
        return 0
    if not os.path.exists(model):
        print(f"{model}: No such file or directory", file=sys.stderr)  # not the real wording
        return 255
    if int(opts.get("x", "0")) > 0:
        print(f"Setting intra_op_num_threads to {opts['x']}")
    if "D" in opts:
        print("Disabling intra-op thread spinning entirely")
    if "Z" in opts:
        print("Disabling intra-op thread spinning between runs")
    start = time.perf_counter()
    session = _session(model, opts)
    created_s = time.perf_counter() - start
    model_dir = os.path.dirname(os.path.abspath(model))
    if "I" not in opts and not any(n.startswith("test_data_set_") for n in os.listdir(model_dir)):
        print(
            f"there is no test data for model {_model_name(model)}\n"
            "Run failed:failed to initialize."
        )
        return 255
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
    average = (
        f"Average inference time cost total: {total_s / runs * 1000:f} ms"
        if current
        else f"Average inference time cost: {_g(total_s / runs * 1000)} ms"
    )
    print(
        f"Session creation time cost: {_g(created_s)} s\n"
        f"First inference time cost: {first_ms} ms\n"
        f"Total inference time cost: {_g(total_s)} s\n"
        f"Total inference requests: {runs}\n"
        f"{average}\n"
        f"Total inference run time: {_g(run_s)} s\n"
        f"Number of inferences per second: {_g(runs / run_s)} \n"
        f"Avg CPU usage: 97 %\n"
        f"Peak working set size: 41283584 bytes"
    )
    stats = _statistics(costs_s) if "s" in opts or not result_file else []
    if result_file:  # one row per timed run, appended, then the statistics
        with open(result_file, "a") as f:
            for i, cost in enumerate(costs_s):
                times = f"{_g(cost)},{_g(cost)}" if current else _g(cost)  # submit, total
                f.write(f"{_model_name(model)},{times},41283584,97,{i}\n")
            if stats:
                f.write("\n" + "\n".join(stats) + "\n")
    else:
        print(f"Avg CPU usage:97\nPeak working set size:41283584\nRuns:{runs}")
    if stats:
        print("\n".join(stats))
    return 0


def main(argv: list[str]) -> int:
    current = os.environ.get("ADBEMU_PERF_TEST_RELEASE", "current") != "old"
    try:
        opts, positional = (parse_absl if current else parse_getopt)(argv)
        bad = opts.get("m", "times") not in ("times", "duration")
        if bad or not 1 <= len(positional) <= 2 or (current and "h" in opts):
            raise UsageError("")
    except UsageError as exc:
        message = str(exc)
        if current and message == "--help":
            print(ABSL_USAGE, end="")
            return 1
        if current and message.startswith("ERROR:"):
            print(message, file=sys.stderr)
            return 1
        if current:
            print(SEE_HELP, end="", file=sys.stderr)
            return 255
        if message:
            print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
        print(USAGE, end="")
        return 255
    model, *rest = positional
    if importlib.util.find_spec("adbemu_runner_hooks"):  # on the emulated phone: its requests
        importlib.import_module("adbemu_runner_hooks").install("onnxruntime_perf_test")
    return run(opts, model, rest[0] if rest else "", current)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
