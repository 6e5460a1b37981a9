"""Pure functions turning benchmark-runner output into milliseconds.

Two runners, in the variants their releases have printed:

``onnxruntime_perf_test`` (stdout; every figure carries its unit)::

    Average inference time cost: 2.41 ms          (since 2020; earlier "Average time cost:2.41 ms")
    Total inference requests: 50                  (earlier "Total iterations:50")
    P50 Latency: 0.00239 s                        (with -s; earlier "P50 Latency is 0.00239sec")

and, when given a result file, one ``model,time_cost_s,peak_bytes,cpu,run`` row per timed run
(newer releases insert the total time as a third column).

TFLite ``benchmark_model`` (stdout, **microseconds**)::

    count=50 first=2510 curr=2398 min=2377 max=2630 avg=2411.3 std=51 [p5=.. median=.. p95=..]
    Inference timings in us: Init: 9110, First inference: 2688, Warmup (avg): 2501,
        Inference (avg): 2411.3                   (earlier "Average inference timings in us:
                                                   Warmup: 2501, Init: 9110, Inference: 2411.3")

Lines may carry a log prefix (``INFO: ``, a logcat tag). A parser raises :class:`ParseError`
when the output holds no usable timing: a crashed or misbehaving runner never becomes a number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from lutnas.errors import LutnasError
from profiler.base import Measurement

_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|-nan)"
_SECONDS = {"s": 1000.0, "sec": 1000.0, "ms": 1.0, "us": 1e-3}


class ParseError(LutnasError):
    """Runner output without a usable timing. The message quotes what was missing."""


@dataclass(frozen=True)
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

    def to_measurement(self) -> Measurement:
        return Measurement(median_ms=self.median_ms, mean_ms=self.mean_ms, std_ms=self.std_ms,
                           p10_ms=self.p10_ms, p90_ms=self.p90_ms, n=self.n, warmup=self.warmup)


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
    """Parse the stdout of ``onnxruntime_perf_test -m times ...`` (old or new wording).

    The tool does one untimed warm-up run of its own, reported as ``warmup=1``. Without ``-s``
    no percentiles are printed and the mean stands in for the median.
    """
    avg = _search(r"Average (?:inference )?time cost:\s*" + _NUM + r"\s*(ms|s)\b", stdout)
    if avg is None:
        raise ParseError("no 'Average inference time cost' line in onnxruntime_perf_test "
                         f"output: {_tail(stdout)}")
    mean_ms = _finite(float(avg.group(1)) * _SECONDS[avg.group(2)], "average time")
    count = _search(r"Total (?:inference requests|iterations):\s*(\d+)", stdout) or _search(
        r"^\W*Runs:\s*(\d+)", stdout)
    n = int(count.group(1)) if count else 0
    if n < 1:
        raise ParseError(f"no run count in onnxruntime_perf_test output: {_tail(stdout)}")

    def latency(label: str) -> float | None:
        m = _search(rf"{label} Latency(?::| is)\s*{_NUM}\s*(sec|s|ms|us)\b", stdout)
        return _finite(float(m.group(1)) * _SECONDS[m.group(2)], f"{label} latency") if m else None

    p50 = latency("P50")
    return RunnerResult(mean_ms=mean_ms, median_ms=p50 if p50 is not None else mean_ms, n=n,
                        warmup=1, p90_ms=latency("P90"), min_ms=latency("Min"),
                        max_ms=latency("Max"), median_is_mean=p50 is None)


def parse_perf_test_result_file(text: str) -> list[float]:
    """Per-run times in ms from an ``onnxruntime_perf_test`` result file, in run order.

    Rows are ``model,time_cost_s,peak_bytes,cpu_percent,run_index``; releases from late 2025 add
    the total time as the third column (``model,submit_s,total_s,peak,cpu,run``), used then.
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

def _fields(line: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"(\w+)=" + _NUM, line)}


def parse_benchmark_model(stdout: str) -> RunnerResult:
    """Parse the stdout of TFLite's ``benchmark_model`` (microseconds) into milliseconds.

    The timed run's statistics come from the last ``count=`` line (the first is the warm-up's);
    ``median=`` exists only in newer releases, older ones give the mean as the median.
    """
    summary = _search(r"[Ii]nference timings in us:(.*)$", stdout)
    if summary is None:
        raise ParseError(f"no 'Inference timings in us' line in benchmark_model output: "
                         f"{_tail(stdout)}")
    avg = re.search(r"Inference(?: \(avg\))?:\s*" + _NUM, summary.group(1)) or re.search(
        r"no stats:\s*" + _NUM, summary.group(1))
    if avg is None:
        raise ParseError(f"no inference average in: {summary.group(0).strip()}")
    mean_ms = _finite(float(avg.group(1)) / 1000.0, "average time")
    counts = [m for m in re.finditer(r"^.*\bcount=\d+ .*$", stdout, re.MULTILINE)
              if "Memory" not in m.group(0)]
    stats = _fields(counts[-1].group(0)) if counts else {}
    warmup_runs = _fields(counts[0].group(0)).get("count", 1) if len(counts) > 1 else 1

    def ms(name: str) -> float | None:
        return _finite(stats[name] / 1000.0, name) if name in stats else None

    median = ms("median")
    n = int(stats.get("count", 0))
    if n < 1:
        raise ParseError(f"no 'count=' statistics line in benchmark_model output: {_tail(stdout)}")
    return RunnerResult(mean_ms=mean_ms, median_ms=median if median is not None else mean_ms,
                        n=n, warmup=int(warmup_runs), std_ms=ms("std"), min_ms=ms("min"),
                        max_ms=ms("max"), median_is_mean=median is None)
