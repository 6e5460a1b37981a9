"""How each benchmark runner is invoked on the phone: its command line and its parser.

A :class:`RunnerKind` pairs a command-line builder with the pure parser of its output.
``onnxruntime_perf_test`` has no warm-up option: it is asked for ``warmup + runs`` repetitions
and the first ``warmup`` of its per-run times (its result file) are dropped; it always does one
untimed run of its own first. A release too old to write the result file gives only its summary
(``n`` then counts all its runs, ``warmup`` is 1). ``benchmark_model`` takes ``--warmup_runs``
and runs the ``.tflite`` file with the XNNPACK delegate (``--use_xnnpack=true``). The kind
follows the model format (``.onnx`` → ``onnxruntime_perf_test``, ``.tflite`` →
``benchmark_model``) unless the user names it; :func:`runner_kind` guesses it from the binary's
file name and :func:`runner_kind_from_help` from its help text.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from lutnas.errors import LutnasError
from profiler.adb import parsers

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """One timing job on the phone. Paths are phone paths."""

    runner: str  # the pushed binary
    model: str
    warmup: int
    runs: int
    threads: int
    result_file: str | None = None  # per-run times, where the runner can write them
    # benchmark_model's precision and delegate flags (profiler.adb.delegates)
    delegate_flags: tuple[str, ...] = ("--use_xnnpack=true",)


@dataclass(frozen=True, kw_only=True)
class RunnerKind:
    name: str
    model_suffix: str
    command: Callable[[RunRequest], list[str]]
    parse: Callable[[str], parsers.RunnerResult]
    per_run_samples: bool  # writes per-run times to ``RunRequest.result_file``
    own_warmup_runs: int  # untimed runs the tool always does before the ones we ask for


def _perf_test_command(req: RunRequest) -> list[str]:
    # -I: generate inputs (a bare model has no test_data_set_0); -s: print P50/P90;
    # -o 99: ORT_ENABLE_ALL like the host backend. Per-run times go to the result file, so
    # ask for warmup + runs repetitions and drop the first ``warmup`` samples afterwards.
    repeats = req.runs + req.warmup if req.result_file else req.runs
    cmd = [
        req.runner,
        "-e",
        "cpu",
        "-m",
        "times",
        "-r",
        str(repeats),
        "-x",
        str(req.threads),
        "-y",
        "1",
        "-o",
        "99",
        "-I",
        "-s",
        req.model,
    ]
    return cmd + ([req.result_file] if req.result_file else [])


def _benchmark_model_command(req: RunRequest) -> list[str]:
    # --min_secs=0 / --warmup_min_secs=0: exactly the number of runs asked for, not "at least
    # one second" (the tool's default). The delegate flags name the delegate explicitly (by
    # default --use_xnnpack=true, as on the host) rather than whatever the build applies.
    return [
        req.runner,
        f"--graph={req.model}",
        f"--num_threads={req.threads}",
        f"--num_runs={req.runs}",
        f"--warmup_runs={req.warmup}",
        "--min_secs=0",
        "--warmup_min_secs=0",
        *req.delegate_flags,
    ]


RUNNERS: dict[str, RunnerKind] = {
    "onnxruntime_perf_test": RunnerKind(
        name="onnxruntime_perf_test",
        model_suffix=".onnx",
        command=_perf_test_command,
        parse=parsers.parse_onnxruntime_perf_test,
        per_run_samples=True,
        own_warmup_runs=1,
    ),
    "benchmark_model": RunnerKind(
        name="benchmark_model",
        model_suffix=".tflite",
        command=_benchmark_model_command,
        parse=parsers.parse_benchmark_model,
        per_run_samples=False,
        own_warmup_runs=0,
    ),
}


def runner_kind(name: str | None, runner_path: str | None = None) -> RunnerKind:
    """The runner kind by name, or guessed from the binary's file name.

    Raises:
        LutnasError: unknown name, or a file name that fits neither runner.
    """
    if name:
        if name not in RUNNERS:
            raise LutnasError(f"unknown runner kind {name!r}; choose one of {', '.join(RUNNERS)}")
        return RUNNERS[name]
    base = PurePosixPath(runner_path or "").name.lower()
    if "benchmark_model" in base:
        return RUNNERS["benchmark_model"]
    if "perf_test" in base or "onnxruntime" in base:
        return RUNNERS["onnxruntime_perf_test"]
    raise LutnasError(
        f"cannot tell which runner {runner_path!r} is; name it with --runner-kind "
        f"({' or '.join(RUNNERS)})"
    )


def named_or_guessed(name: str | None, runner_path) -> RunnerKind | None:
    """The runner kind named, or guessed from the file name; None: ask the binary later
    (:func:`runner_kind_from_help`).

    Raises:
        LutnasError: an unknown name.
    """
    if name:
        return runner_kind(name)
    try:
        return runner_kind(None, str(runner_path))
    except LutnasError:
        return None


def exit_text(code: int) -> str:
    """A runner's exit status for an error message, with the signal it means on Android."""
    signals = {134: "SIGABRT", 135: "SIGBUS", 137: "SIGKILL", 139: "SIGSEGV"}
    return f"exit {code}" + (f", {signals[code]}" if code in signals else "")


# What each runner prints when asked for help (``--help``, no arguments, a bad flag), in every
# release (tests/data/transcripts/SOURCES.md): alternatives, each a set of patterns all found.
_HELP_SIGNS: dict[str, list[list[re.Pattern[str]]]] = {
    "onnxruntime_perf_test": [
        # the usage line of getopt releases ("perf_test [options...] model_path [result_file]",
        # 2018 without the brackets) and of Abseil releases ("onnxruntime_perf_test [options...]
        # model_path [result_file]")
        [re.compile(r"perf_test \[options\.\.\.\] model_path")],
        # Abseil releases given no model path (or -h)
        [re.compile(r"See 'onnxruntime_perf_test --help'")],
    ],
    "benchmark_model": [
        # Flags::Usage's table: "--graph=<tab>string<tab>optional<tab>graph file name" and
        # "--num_runs=50<tab>int32<tab>optional<tab>..."
        [re.compile(r"--graph=\S*\s+string\b"), re.compile(r"--num_runs=\S*\s+int32\b")],
        # the complaint about a missing --graph
        [re.compile(r"the name of your TF ?Lite input file with --graph")],
    ],
}


def runner_kind_from_help(text: str) -> RunnerKind | None:
    """The runner whose help or usage text ``text`` is (stdout and stderr together), or None.

    Recognises ``onnxruntime_perf_test`` (getopt and Abseil releases) and TFLite/LiteRT's
    ``benchmark_model``; None for anything else, or for text that fits both.
    """
    kinds = [
        name
        for name, alternatives in _HELP_SIGNS.items()
        if any(all(sign.search(text) for sign in signs) for signs in alternatives)
    ]
    return RUNNERS[kinds[0]] if len(kinds) == 1 else None


def kind_from_help(help_text: str, file_name: str) -> RunnerKind:
    """The runner whose ``--help`` printed ``help_text``.

    Raises:
        LutnasError: neither runner's, saying how to name it.
    """
    kind = runner_kind_from_help(help_text)
    if kind is None:
        first = (help_text.strip().splitlines() or ["(no output)"])[0][:200]
        raise LutnasError(
            f"cannot tell which runner {file_name} is from its name or its --help output on "
            f"the phone ({first!r}); name it with --runner-kind ({' or '.join(RUNNERS)})"
        )
    log.info("runner %s recognised from its help text as %s", file_name, kind.name)
    return kind


def command_line(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
