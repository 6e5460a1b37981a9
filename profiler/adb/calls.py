"""One runner call on the phone as the backend plans it and reads it back, whichever way it is
sent (alone, or as one of a batch: :mod:`profiler.adb.batch`).

:meth:`RunnerCalls.plan` gives a layer's call: its model file on the host and on the phone, the
runner's command line, its result file (``onnxruntime_perf_test``'s per-run times) and its time
limit (:class:`profiler.adb.session.RunnerLimits`, from the slowest run seen so far).
:meth:`RunnerCalls.read` turns what the call printed, its exit code and its per-run times into a
:class:`~lut.measurement.Measurement`, or a :class:`BackendError` naming the layer: a runner
that failed, output no parser reads, or a delegate that did not take the whole graph.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lut.measurement import Measurement
from profiler.adb import delegates, runners
from profiler.adb.parsers import ParseError
from profiler.adb.runners import RunnerKind, RunRequest, command_line
from profiler.adb.session import RunnerLimits
from profiler.base import BackendError, Workload

log = logging.getLogger(__name__)
RESULT_FILE = "result.csv"


@dataclass(frozen=True, kw_only=True)
class RunnerCall:
    workload: Workload
    local: Path  # the model file on the host
    remote: str  # ... and on the phone
    command: str  # the runner's shell command line
    result_file: str | None  # per-run times on the phone (name in the work directory)
    warmup: int
    runs: int
    total_runs: int  # warm-up and timed, and the runner's own untimed ones
    where: str  # "<runner> on <key>", for messages


@dataclass(kw_only=True)
class RunnerCalls:
    """How this session's runner is called: its kind, where it lives, its flags and limits."""

    kind: RunnerKind
    runner: str  # the pushed binary on the phone
    work_dir: str
    threads: int
    precision: str
    delegate: str
    limits: RunnerLimits
    model_file: Callable[[Workload], Path]  # writes (or finds) a workload's model file
    slowest_run_ms: float | None = None

    def plan(self, workload: Workload, warmup: int, runs: int) -> RunnerCall:
        local = self.model_file(workload)
        remote = f"{self.work_dir}/{local.name}"
        result = f"{self.work_dir}/{RESULT_FILE}" if self.kind.per_run_samples else None
        argv = self.kind.command(
            RunRequest(
                runner=self.runner,
                model=remote,
                warmup=warmup,
                runs=runs,
                threads=self.threads,
                result_file=result,
                delegate_flags=tuple(
                    delegates.benchmark_model_flags(self.precision, self.delegate)
                ),
            )
        )
        total_runs = warmup + runs + self.kind.own_warmup_runs
        return RunnerCall(
            workload=workload,
            local=local,
            remote=remote,
            command=command_line(argv),
            result_file=RESULT_FILE if result else None,
            warmup=warmup,
            runs=runs,
            total_runs=total_runs,
            where=f"{self.kind.name} on {workload.key}",
        )

    def limit_s(self, call: RunnerCall) -> float:
        """Seconds ``call`` may take, from the slowest run seen so far in this session."""
        return self.limits.limit_s(call.total_runs, self.slowest_run_ms)

    def read(
        self, call: RunnerCall, returncode: int, output: str, samples: list[float]
    ) -> Measurement:
        """The measurement of ``call`` from its exit code, its output (stderr merged) and its
        per-run times ([]: none; its summary is used).

        Raises:
            BackendError: the runner failed, its output is unreadable, or the delegate did not
                take the whole graph; the message names the layer.
        """
        where = call.where
        if returncode != 0:
            detail = (output.strip() or "no output")[-300:]
            raise BackendError(f"{where} failed ({runners.exit_text(returncode)}): {detail}")
        try:
            parsed = self.kind.parse(output)
        except ParseError as exc:
            raise BackendError(f"{where}: unreadable output: {exc}") from exc
        if self.kind.model_suffix == ".tflite":
            delegates.check_delegation(output, self.delegate, where)
        m = parsed.to_measurement()
        if call.result_file is not None:
            expected = call.warmup + call.runs
            if len(samples) == expected:
                m = Measurement.from_samples(samples[call.warmup :], call.warmup)
            else:
                log.warning(
                    "%s: %d per-run times for %d runs; using its summary",
                    where,
                    len(samples),
                    expected,
                )
        slowest = parsed.max_ms or m.p95_ms or m.median_ms
        self.slowest_run_ms = max(self.slowest_run_ms or 0.0, slowest)
        return m
