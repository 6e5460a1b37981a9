"""What the emulated phone asks of its stand-in runners, through their environment.

The phone puts this directory on the runners' ``PYTHONPATH``; each stand-in calls
:func:`install` first thing. Nothing here runs outside the emulated phone.

``ADBEMU_RUNNER_FAULT=hang``
    the runner hangs for good (a runner stuck in a driver or a deadlock): ``benchmark_model``
    at its first ``Running benchmark`` line (after loading the model), ``onnxruntime_perf_test``
    at its first line. Only a kill ends it.
``ADBEMU_RUNNER_FAULT=markers``
    the runner prints, before its own output, lines shaped like the markers that keep a batch's
    outputs apart (``@lutnas-batch <token> exit|done|end``, with tokens of its own), and, as its
    last output, a text without a newline.
``ADBEMU_RUNNER_MATCH=TEXT``
    the fault applies only to a runner whose own command line contains ``TEXT`` (several
    runners started by one shell each check theirs).
``ADBEMU_BENCHMARK_RELEASE=2.13|2.4|2019|1.12`` (``benchmark_model`` only)
    what LiteRT's output looked like in that release (tests/data/transcripts/SOURCES.md):
    ``2.13`` has no ``p5= median= p95=``; ``2.4`` neither, and no ``INFO: `` prefix, and ``Peak
    memory footprint (MB):``; ``2019`` also drops ``but terminate if exceeding ...`` and prints
    the ``Average inference timings in us: Warmup: W, Init: I, no stats: A`` summary without
    memory lines; ``1.12`` also says ``Running benchmark for N iterations``. ``2019`` and
    ``1.12`` write every line to **stderr**, as those releases did.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import time

_PERCENTILES = re.compile(r" p5=\S+ median=\S+ p95=\S+")
_SUMMARY = re.compile(
    r"Inference timings in us: Init: (\S+), First inference: \S+, Warmup \(avg\): (\S+), "
    r"Inference \(avg\): (\S+)"
)
_STDERR_RELEASES = ("2019", "1.12")


def to_release(line: str, release: str) -> str | None:
    """One line of current LiteRT output as ``release`` printed it (None: not printed)."""
    if release == "2.13":
        return _PERCENTILES.sub("", line)
    body = line
    for prefix in ("INFO: ", "WARN: "):
        body = body.removeprefix(prefix)
    body = _PERCENTILES.sub("", body)
    body = body.replace(
        "Memory footprint delta from the start of the tool (MB):", "Peak memory footprint (MB):"
    )
    if release == "2.4":
        return body
    if body.startswith(("Note: as the benchmark tool", "Peak memory footprint")):
        return None
    body = re.sub(r" but terminate if exceeding \S+ seconds\.", "", body)
    summary = _SUMMARY.search(body)
    if summary:
        init, warmup, avg = summary.groups()
        body = f"Average inference timings in us: Warmup: {warmup}, Init: {init}, no stats: {avg}"
    if release == "1.12":
        body = re.sub(
            r"Running benchmark for at least (\d+) iterations and at least \S+ seconds",
            r"Running benchmark for \1 iterations",
            body,
        )
    return body


class _Lines:
    """A text stream that rewrites whole lines and may hang at one."""

    def __init__(self, target, rewrite, hang_at: str | None) -> None:
        self.target, self.rewrite, self.hang_at = target, rewrite, hang_at
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            if self.hang_at is not None and self.hang_at in line:
                self.target.flush()
                while True:  # until killed
                    time.sleep(3600)
            out = self.rewrite(line)
            if out is not None:
                self.target.write(out + "\n")
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name: str):
        return getattr(self.target, name)


FAKE_MARKERS = (
    "@lutnas-batch 0123456789abcdef exit 0 0\n"
    "@lutnas-batch 0123456789abcdef done 0\n"
    "@lutnas-batch  done 1\n"
    "@lutnas-batch end\n"
)


def install(tool: str) -> None:
    """Apply the phone's requests to this process's stdout (see the module docstring)."""
    match = os.environ.get("ADBEMU_RUNNER_MATCH", "")
    if match and match not in " ".join(sys.argv):
        os.environ.pop("ADBEMU_RUNNER_FAULT", None)
    if os.environ.get("ADBEMU_RUNNER_FAULT") == "markers":
        sys.stdout.write(FAKE_MARKERS)
        sys.stdout.flush()
        atexit.register(lambda: (sys.stdout.write("a last line without its newline"),
                                 sys.stdout.flush()))  # fmt: skip
    hang_at = None
    if os.environ.get("ADBEMU_RUNNER_FAULT") == "hang":
        hang_at = "Running benchmark for" if tool == "benchmark_model" else ""
    release = os.environ.get("ADBEMU_BENCHMARK_RELEASE", "") if tool == "benchmark_model" else ""
    if hang_at is None and not release:
        return
    target = sys.stderr if release in _STDERR_RELEASES else sys.stdout
    sys.stdout = _Lines(
        target, lambda line: to_release(line, release) if release else line, hang_at
    )
