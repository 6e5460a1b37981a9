"""Pure functions turning benchmark-runner output into milliseconds.

Two runners, in the wordings their releases have printed (sources: SOURCES.md beside the
transcripts in tests/data/transcripts, which quote each format from the tool's code or from a
real run).

``onnxruntime_perf_test`` (stdout; every figure carries its unit)::

    Setting intra_op_num_threads to 1             (ort_test_session.cc, when -x > 0)
    Session creation time cost: 0.0418853 s
    First inference time cost: 3 ms
    Total inference time cost: 0.119772 s
    Total inference requests: 50                  (2019: "Total iterations:50")
    Average inference time cost total: 2.395440 ms   (1.23+, submit/total split of PR #25895)
    Average inference time cost: 2.39544 ms       (2020 .. 1.22; Jan 2020 without the space
                                                   after the colon; 2019 "Average time cost:")
    Min Latency: 0.00231147 s ... P999 Latency: X s   (with -s; 2019 "P50 Latency is Xsec")

and, when given a result file, one ``model,time_cost_s,peak_bytes,cpu,run`` row per timed run;
after PR #26313 (late 2025) ``model,submit_s,total_s,peak_bytes,cpu,run``.

TFLite ``benchmark_model`` (**microseconds**; its log went to stderr up to early 2020, to stdout
since, so the output parsed is both streams as ``2>&1`` merges them). Each run phase logs
``Running benchmark for at least N iterations ...`` (2018: ``... for N iterations``) and then its
statistics: first the warm-up, then the timed run::

    count=50 first=2209 curr=2231 min=2177 max=2498 avg=2236.42 std=58 [p5=.. median=.. p95=..]
    count=1 curr=3512391                          (all runs equal: no min/max/avg/std)
    Inference timings in us: Init: 9110, First inference: 2688, Warmup (avg): 2501,
        Inference (avg): 2411.3                   (2019: "Average inference timings in us:
                                                   Warmup: 2501, Init: 9110, no stats: 2411.3")

``avg`` is a C++ double with 6 significant digits (``avg=2.95034e+06`` past a second);
``p5= median= p95=`` exist in LiteRT releases only. ``--enable_op_profiling`` appends tables
with their own ``Timings (microseconds): count=...`` lines and ``Memory (bytes): count=0``: never
the run's statistics. Lines may carry a log prefix: ``INFO: `` (by TF 2.13; none up to 2.9),
a logcat ``I tflite  : `` (with or without date, pid and tid) or Android Studio's columns.

A parser raises :class:`ParseError` when the output holds no usable timing: a crashed or
misbehaving runner never becomes a number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from lut.measurement import Measurement
from lutnas.errors import LutnasError

_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|-nan)"
_SECONDS = {"s": 1000.0, "sec": 1000.0, "ms": 1.0, "us": 1e-3}


class ParseError(LutnasError):
    """Runner output without a usable timing. The message quotes what was missing."""


@dataclass(frozen=True, kw_only=True)
class RunnerResult:
    """What a runner reported, in milliseconds. Fields it did not print are None.

    ``median_is_mean`` is True when the runner printed no median and the mean stands in.
    """

    mean_ms: float
    median_ms: float
    n: int
    warmup: int
    std_ms: float | None = None
    p10_ms: float | None = None
    p90_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    median_is_mean: bool = False
    p5_ms: float | None = None
    p95_ms: float | None = None

    def to_measurement(self) -> Measurement:
        return Measurement(
            median_ms=self.median_ms,
            mean_ms=self.mean_ms,
            std_ms=self.std_ms,
            p10_ms=self.p10_ms,
            p90_ms=self.p90_ms,
            n=self.n,
            warmup=self.warmup,
            p5_ms=self.p5_ms,
            p95_ms=self.p95_ms,
            median_is_mean=self.median_is_mean,
        )


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise ParseError(f"runner printed an impossible {what}: {value}")
    return value


def _search(pattern: str, text: str) -> re.Match | None:
    matches = list(re.finditer(pattern, text, re.MULTILINE))
    return matches[-1] if matches else None  # the last summary wins (some tools repeat them)


def _tail(text: str, lines: int = 6) -> str:
    tail = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(tail)[-400:] or "(no output)"


# onnxruntime_perf_test --------------------------------------------------------------------


def parse_onnxruntime_perf_test(stdout: str) -> RunnerResult:
    """Parse the stdout of ``onnxruntime_perf_test -m times ...`` (any release's wording).

    The mean is the per-request average (``cost total`` in 1.23+, ``cost`` before). The tool
    does one untimed warm-up run of its own, reported as ``warmup=1``. Without ``-s`` (and
    with a result file) no percentiles are printed and the mean stands in for the median.
    """
    avg = _search(
        r"Average (?:inference )?time cost(?: total)?:\s*" + _NUM + r"\s*(ms|s)\b", stdout
    )
    if avg is None:
        raise ParseError(
            "no 'Average inference time cost' line in onnxruntime_perf_test "
            f"output: {_tail(stdout)}"
        )
    mean_ms = _finite(float(avg.group(1)) * _SECONDS[avg.group(2)], "average time")
    count = _search(r"Total (?:inference requests|iterations):\s*(\d+)", stdout) or _search(
        r"^\W*Runs:\s*(\d+)", stdout
    )
    n = int(count.group(1)) if count else 0
    if n < 1:
        raise ParseError(f"no run count in onnxruntime_perf_test output: {_tail(stdout)}")

    def latency(label: str) -> float | None:
        m = _search(rf"{label} Latency(?::| is)\s*{_NUM}\s*(sec|s|ms|us)\b", stdout)
        return _finite(float(m.group(1)) * _SECONDS[m.group(2)], f"{label} latency") if m else None

    p50 = latency("P50")
    return RunnerResult(
        mean_ms=mean_ms,
        median_ms=p50 if p50 is not None else mean_ms,
        n=n,
        warmup=1,
        p90_ms=latency("P90"),
        min_ms=latency("Min"),
        max_ms=latency("Max"),
        median_is_mean=p50 is None,
        p95_ms=latency("P95"),
    )


def parse_perf_test_result_file(text: str) -> list[float]:
    """Per-run times in ms from an ``onnxruntime_perf_test`` result file, in run order.

    Rows are ``model,time_cost_s,peak_bytes,cpu_percent,run_index``; releases from late 2025
    (PR #26313) add the total time as the third column (``model,submit_s,total_s,peak,cpu,run``),
    used then. With ``-s`` the file ends with a blank line and the ``... Latency: X s`` lines.
    """
    samples = []
    for line in text.splitlines():
        fields = line.strip().split(",")
        if len(fields) not in (5, 6) or not fields[-1].strip().isdigit():
            continue
        try:
            seconds = float(fields[2] if len(fields) == 6 else fields[1])
        except ValueError:
            continue
        samples.append(_finite(seconds * 1000.0, "per-run time"))
    if not samples:
        raise ParseError(f"no per-run rows in the onnxruntime_perf_test result file: {_tail(text)}")
    return samples


# TFLite benchmark_model -------------------------------------------------------------------

# "Running benchmark for at least N iterations ..." (2019 on); 2018: "... for N iterations"
_RUN_START = re.compile(r"Running benchmark for (?:at least )?\d+ iterations")
_STATS = re.compile(r"\bcount=\d+")
_NOT_RUN_STATS = ("Timings", "Memory")  # op-profiling tables: "Timings (microseconds): count="


def _run_stats(line: str) -> dict[str, float] | None:
    """The fields of a run's ``count=`` line, or None for any other line (op profiling too)."""
    m = _STATS.search(line)
    if m is None or any(word in line[: m.start()] for word in _NOT_RUN_STATS):
        return None
    return {k: float(v) for k, v in re.findall(r"(\w+)=" + _NUM, line[m.start() :])}


def _phases(stdout: str) -> list[dict[str, float] | None]:
    """Each run phase's statistics (None when a phase printed none), in output order.

    A phase starts at a ``Running benchmark for at least`` line and its statistics are the next
    run ``count=`` line before another phase or the summary. Output trimmed of those lines
    (as quoted in issues) counts every run ``count=`` line as a phase.
    """
    phases: list[dict[str, float] | None] = []
    open_phase = False
    trimmed = not _RUN_START.search(stdout)
    for line in stdout.splitlines():
        if _RUN_START.search(line):
            phases.append(None)
            open_phase = True
        elif "nference timings in us" in line:
            open_phase = False
        elif (open_phase or trimmed) and (stats := _run_stats(line)) is not None:
            if trimmed:
                phases.append(stats)
            else:
                phases[-1], open_phase = stats, False
    return phases


def parse_benchmark_model(stdout: str) -> RunnerResult:
    """Parse the stdout of TFLite's ``benchmark_model`` (microseconds) into milliseconds.

    The mean is the summary's ``Inference (avg)``; the other statistics come from the timed
    phase (the last one; the phase before it is the warm-up, whose ``count`` is ``warmup``,
    or the tool's default of 1 when the output does not show it). ``median=`` exists only in
    LiteRT releases; before them the mean stands in for the median, unless every timed run took
    the same time (``count=N curr=X``), when that time is the median.
    """
    summary = _search(r"[Ii]nference timings in us:(.*)$", stdout)
    if summary is None:
        raise ParseError(
            f"no 'Inference timings in us' line in benchmark_model output: {_tail(stdout)}"
        )
    avg = re.search(r"Inference(?: \(avg\))?:\s*" + _NUM, summary.group(1)) or re.search(
        r"no stats:\s*" + _NUM, summary.group(1)
    )
    if avg is None:
        raise ParseError(f"no inference average in: {summary.group(0).strip()}")
    mean_ms = _finite(float(avg.group(1)) / 1000.0, "average time")
    phases = _phases(stdout)
    stats = phases[-1] if phases else None
    n = int(stats.get("count", 0)) if stats else 0
    if stats is None or n < 1:
        raise ParseError(
            f"no 'count=' statistics of the timed run in benchmark_model output: {_tail(stdout)}"
        )
    warmup = phases[-2] if len(phases) > 1 else None
    if "min" not in stats and "curr" in stats:  # all runs took the same time
        stats = {
            "min": stats["curr"],
            "max": stats["curr"],
            "std": 0.0,
            "median": stats["curr"],
            **stats,
        }

    def ms(name: str) -> float | None:
        return _finite(stats[name] / 1000.0, name) if name in stats else None

    median = ms("median")
    return RunnerResult(
        mean_ms=mean_ms,
        median_ms=median if median is not None else mean_ms,
        n=n,
        warmup=int(warmup.get("count", 0)) if warmup else 1,
        std_ms=ms("std"),
        min_ms=ms("min"),
        max_ms=ms("max"),
        median_is_mean=median is None,
        p5_ms=ms("p5"),
        p95_ms=ms("p95"),
    )
