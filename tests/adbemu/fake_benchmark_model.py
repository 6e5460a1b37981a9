#!/usr/bin/env python3
"""A stand-in for TFLite/LiteRT's ``benchmark_model`` that the emulated phone runs.

Same command line as the real tool: ``--name=value`` flags (``--graph``, ``--num_threads``,
``--num_runs``, ``--warmup_runs``, ``--min_secs``, ``--warmup_min_secs``, ``--max_secs``,
``--run_delay``, ``--use_xnnpack``, ``--enable_op_profiling``,
``--report_peak_memory_footprint``, ``--verbose``, ...). Like the real tool it warns about flags
it does not know (``WARN: Unconsumed cmdline flags: ...``) and carries on, prints its usage on
stderr and exits 1 for ``--help`` or a value it cannot parse, and exits 1 without a ``--graph``
or when the file cannot be loaded.

The ``.tflite`` runs on the host with ``ai_edge_litert``'s interpreter (random inputs), timed the
way ``BenchmarkModel::Run`` times it, and the output is what current LiteRT releases print
(tests/data/transcripts/SOURCES.md): ``INFO: `` lines on stdout, a warm-up phase and a timed
phase each ending in ``count= first= curr= min= max= avg= std= p5= median= p95=`` (all
microseconds; ``avg`` a C++ double, so ``1.23858e+06`` past a second), the ``Inference timings
in us`` summary, the memory lines, and with ``--enable_op_profiling=true`` the op tables and
their ``Timings (microseconds): count=...`` lines.

Faults for tests (environment): ``ADBEMU_RUNNER_FAULT=crash`` dies with SIGSEGV after the
warm-up, ``ADBEMU_RUNNER_FAULT=garbage`` prints nonsense and exits 0; ``hang``, and
older output formats: see ``runner_lib/adbemu_runner_hooks.py``.

Precision and delegate flags (``--xnnpack_force_fp16``, ``--use_gpu``,
``--gpu_precision_loss_allowed``, ``--use_nnapi``, ``--nnapi_allow_fp16``) and what the emulated
phone makes of them: ``fake_delegates.py`` beside this file; its statistics lines and op-profiling
tables: ``fake_benchmark_report.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import resource
import signal
import sys
import time
from typing import Any

import fake_delegates  # beside this file (the fixture copies it along)
from fake_benchmark_report import avg_text, g, op_profiles, stat_line

# (name, type, default, usage) in the order the real usage lists them (BenchmarkModel, then
# BenchmarkTfLiteModel, then the default and XNNPACK delegate providers), a subset.
FLAGS: list[tuple[str, str, object, str]] = [
    ("num_runs", "int32", 50, "expected number of runs, see also min_secs, max_secs"),
    (
        "min_secs",
        "float",
        1.0,
        "minimum number of seconds to rerun for, potentially making "
        "the actual number of runs to be greater than num_runs",
    ),
    (
        "max_secs",
        "float",
        150.0,
        "maximum number of seconds to rerun for, potentially making "
        "the actual number of runs to be less than num_runs.",
    ),
    ("run_delay", "float", -1.0, "delay between runs in seconds"),
    ("num_threads", "int32", -1, "number of threads"),
    ("benchmark_name", "string", "", "benchmark name"),
    (
        "warmup_runs",
        "int32",
        1,
        "minimum number of runs performed on initialization, to allow "
        "performance characteristics to settle, see also warmup_min_secs",
    ),
    (
        "warmup_min_secs",
        "float",
        0.5,
        "minimum number of seconds to rerun for, potentially "
        "making the actual number of warm-up runs to be greater than warmup_runs",
    ),
    ("verbose", "bool", False, "Whether to log parameters whose values are not set."),
    (
        "report_peak_memory_footprint",
        "bool",
        False,
        "Report the peak memory footprint by periodically checking the memory footprint.",
    ),
    ("graph", "string", "", "graph file name"),
    (
        "signature_to_run_for",
        "string",
        "",
        "If the model contains multiple signatures, use "
        "this flag to specify the signature to benchmark.",
    ),
    ("enable_op_profiling", "bool", False, "enable op profiling"),
    ("help", "bool", False, "Print out all supported flags if true."),
    ("num_threads", "int32", -1, "number of threads used for inference on CPU."),
    ("use_xnnpack", "bool", False, "explicitly apply the XNNPACK delegate."),
    *fake_delegates.FLAGS,
]
# LogParams order and wording; True: always logged, else only when set or with --verbose=true
LOGGED: list[tuple[str, str, bool]] = [
    ("num_runs", "Min num runs", False),
    ("min_secs", "Min runs duration (seconds)", False),
    ("max_secs", "Max runs duration (seconds)", False),
    ("run_delay", "Inter-run delay (seconds)", False),
    ("num_threads", "Num threads", False),
    ("benchmark_name", "Benchmark name", False),
    ("warmup_runs", "Min warmup runs", False),
    ("warmup_min_secs", "Min warmup runs duration (seconds)", False),
    ("report_peak_memory_footprint", "Report the peak memory footprint", False),
    ("graph", "Graph", True),
    ("signature_to_run_for", "Signature to run", True),
    ("enable_op_profiling", "Enable op profiling", False),
    ("help", "print out all supported flags", False),
    ("num_threads", "#threads used for CPU inference", False),
    ("use_xnnpack", "Use xnnpack", False),
    *fake_delegates.LOGGED,
]
_TYPES = {name: kind for name, kind, _, _ in FLAGS}
NOTE = (
    "Note: as the benchmark tool itself affects memory footprint, the following is only "
    "APPROXIMATE to the actual memory footprint of the model at runtime. Take the "
    "information at your discretion."
)


def info(msg: str) -> None:
    print(f"INFO: {msg}", flush=True)


def error(msg: str) -> None:
    print(f"ERROR: {msg}", file=sys.stderr, flush=True)


def _display(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return g(value) if isinstance(value, float) else str(value)


def usage(argv0: str) -> str:
    """``Flags::Usage``: the usage line, then one tab-separated line per flag."""
    names = [f"--{name}={_display(default)}" for name, _, default, _ in FLAGS]
    width = max(len(n) for n in names)
    lines = [f"usage: {argv0} <flags>", "Flags:"]
    lines += [
        f"\t{n:<{width}}\t{kind}\toptional\t{text}"
        for n, (_, kind, _, text) in zip(names, FLAGS, strict=True)
    ]
    return "\n".join(lines) + "\n"


def _value(kind: str, text: str) -> object | None:
    """A flag value the way the tool's istringstream reads it; None when it cannot."""
    if kind == "bool":
        return text in ("true", "1") if text in ("true", "false", "0", "1") else None
    if kind == "string":
        return text
    m = re.match(
        r"\s*[-+]?(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)" if kind == "float" else r"\s*[-+]?\d+", text
    )
    if m is None:
        return None
    return float(m.group(0)) if kind == "float" else int(m.group(0))


def parse_flags(argv: list[str]) -> tuple[dict[str, Any], set[str], list[str], bool]:
    """(values, names set on the command line, unconsumed arguments, parsed ok)."""
    values = {name: default for name, _, default, _ in FLAGS}
    given: set[str] = set()
    used = [False] * len(argv)
    ok = True
    for name in dict.fromkeys(n for n, _, _, _ in FLAGS):
        prefix = f"--{name}="
        for i, arg in enumerate(argv):
            if used[i] or not arg.startswith(prefix):
                continue
            used[i] = True
            parsed = _value(_TYPES[name], arg[len(prefix) :])
            if parsed is None:
                error(f"Failed to parse flag '{name}' against argv '{arg}'")
                ok = False
            else:
                values[name] = parsed
                given.add(name)
            break
    rest = [a for a, u in zip(argv, used, strict=True) if not u]
    return values, given, rest, ok and not (rest and rest[0] == "--help")


def _max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Runner:
    """The model loaded in ai-edge-litert's interpreter, fed random inputs."""

    def __init__(self, graph: str, threads: int, xnnpack: bool | None) -> None:
        import numpy as np
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = (
            OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            if xnnpack is False
            else OpResolverType.AUTO
        )
        self.interpreter = Interpreter(
            model_path=graph,
            num_threads=threads if threads > 0 else None,
            experimental_op_resolver_type=resolver,
        )
        self.interpreter.allocate_tensors()
        rng = np.random.default_rng(0)
        self.inputs = []
        for d in self.interpreter.get_input_details():
            shape = [int(s) if s > 0 else 1 for s in d["shape"]]
            if np.issubdtype(d["dtype"], np.floating):
                data = rng.standard_normal(shape)
            else:
                data = rng.integers(0, 100, size=shape)
            self.inputs.append((d["index"], data.astype(d["dtype"])))

    def ops(self) -> list[str]:
        return [op["op_name"] for op in self.interpreter._get_ops_details()]

    def invoke_us(self) -> int:
        for index, data in self.inputs:  # ResetInputsAndOutputs: before the clock starts
            self.interpreter.set_tensor(index, data)
        start_us = time.perf_counter_ns() // 1000
        self.interpreter.invoke()
        return time.perf_counter_ns() // 1000 - start_us


def run_phase(
    runner: Runner, min_runs: int, min_secs: float, max_secs: float, delay_s: float
) -> list[int]:
    """``BenchmarkModel::Run``: at least ``min_runs`` runs and ``min_secs``, at most
    ``max_secs``; logs and returns the per-run microseconds."""
    info(
        f"Running benchmark for at least {min_runs} iterations and at least {g(min_secs)} "
        f"seconds but terminate if exceeding {g(max_secs)} seconds."
    )
    now = time.monotonic()
    min_finish, max_finish = now + min_secs, now + max_secs
    runs_us: list[int] = []
    while (len(runs_us) < min_runs or now < min_finish) and now <= max_finish:
        runs_us.append(runner.invoke_us())
        if delay_s > 0:
            time.sleep(delay_s)
        now = time.monotonic()
    info(stat_line(runs_us) + "\n")
    return runs_us


def memory_lines(start_kb: int, init_kb: int, peak: bool) -> None:
    info(NOTE)
    end_kb = _max_rss_kb()
    info(
        f"Memory footprint delta from the start of the tool (MB): "
        f"init={g((init_kb - start_kb) / 1024.0)} overall={g((end_kb - start_kb) / 1024.0)}"
    )
    if peak:
        info(f"Overall peak memory footprint (MB) via periodic monitoring: {g(end_kb / 1024.0)}")
        with open("/proc/self/statm") as f:
            _, rss, shared = (
                int(x) * os.sysconf("SC_PAGE_SIZE") >> 20 for x in f.read().split()[:3]
            )
        info("Memory status at the end of exeution:")
        info(f"- VmRSS              : {rss} MB")
        info(f"+ RssAnnon           : {rss - shared} MB")
        info(f"+ RssFile + RssShmem : {shared} MB")


def log_params(values: dict[str, Any], given: set[str]) -> None:
    verbose = bool(values["verbose"])
    info(f"Log parameter values verbosely: [{int(verbose)}]")
    for name, label, always in LOGGED:
        if always or verbose or name in given:
            v = values[name]
            shown = str(int(v)) if isinstance(v, bool) else g(v) if isinstance(v, float) else v
            info(f"{label}: [{shown}]")


def failed() -> int:
    error("Benchmarking failed.")
    return 1


def main(argv: list[str], argv0: str) -> int:
    if importlib.util.find_spec("adbemu_runner_hooks"):  # on the emulated phone: its requests
        importlib.import_module("adbemu_runner_hooks").install("benchmark_model")
    info("STARTING!")
    values, given, rest, ok = parse_flags(argv)
    if not ok or values["help"]:
        error(usage(argv0).rstrip("\n"))
        return failed()
    if rest:
        print(f"WARN: Unconsumed cmdline flags: {' '.join(rest)}", flush=True)
    graph = str(values["graph"])
    if not graph:
        error("Please specify the name of your TF Lite input file with --graph")
        return failed()
    log_params(values, given)
    fault = os.environ.get("ADBEMU_RUNNER_FAULT", "")
    if fault == "garbage":
        print(
            "\x1b[31m@@@ delegate watchdog fired @@@\nINFO: count=??? first=-\nINFO: Inference "
            "timings in us: Init: ?, First inference: ?, Warmup (avg): ?, Inference (avg): nan"
        )
        return 0
    import ai_edge_litert.interpreter  # noqa: F401  (loaded before the memory baseline)

    start_kb = _max_rss_kb()
    init_start = time.perf_counter_ns() // 1000
    if not os.path.isfile(graph) or not os.access(graph, os.R_OK):
        error(f"Could not open '{graph}'.")
        error("The model allocation is null/empty")
        error(f"Failed to load model {graph}")
        return failed()
    info(f"Loaded model {graph}")
    xnnpack = values["use_xnnpack"] if "use_xnnpack" in given else None
    try:
        runner = fake_delegates.make_runner(
            Runner, graph, int(values["num_threads"]), values, xnnpack
        )
    except (ValueError, RuntimeError) as exc:
        error(f"The model is not a valid Flatbuffer buffer ({exc})")
        error(f"Failed to load model {graph}")
        return failed()
    # the runtime itself logs "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." (stderr)
    fake_delegates.report(graph, values, xnnpack)
    init_us = time.perf_counter_ns() // 1000 - init_start
    init_kb = _max_rss_kb()
    info(f"The input model file size (MB): {g(os.path.getsize(graph) / 1e6)}")
    info(f"Initialized session in {g(init_us / 1e3)}ms.")
    max_secs, delay_s = float(values["max_secs"]), float(values["run_delay"])
    warmup = run_phase(
        runner, int(values["warmup_runs"]), float(values["warmup_min_secs"]), max_secs, delay_s
    )
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    timed = run_phase(runner, int(values["num_runs"]), float(values["min_secs"]), max_secs, delay_s)
    info(
        f"Inference timings in us: Init: {init_us}, First inference: "
        f"{warmup[0] if warmup else 0}, Warmup (avg): {avg_text(warmup)}, "
        f"Inference (avg): {avg_text(timed)}"
    )
    memory_lines(start_kb, init_kb, bool(values["report_peak_memory_footprint"]))
    if values["enable_op_profiling"] and timed:
        print(op_profiles(runner.ops(), init_us, timed, xnnpack is not False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], sys.argv[0]))
