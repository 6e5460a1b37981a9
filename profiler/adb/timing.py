"""Timing layers on a phone, one at a time or in batches, with the session's watch between them.

:meth:`PhoneTiming.measure` times one layer: its own push and its own shell
(:func:`profiler.adb.session.run_script`), the result file read back after.
:meth:`PhoneTiming.measure_batch` times several with one push and one shell
(:func:`profiler.adb.batch_run.run_batch`), handing each row over as soon as its runner call
ends. Both plan and read a call the same way (:mod:`profiler.adb.calls`).

Watching: clocks and temperatures are checked (and the phone cooled down) before the first
layer, then before a layer or a batch once ``check_every`` layers have been timed since the
last check; never inside a batch, so a batch's layers run back to back like a single layer's
runs. Every row measured after the runner binary changed carries the session's ``row_note``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from lut.measurement import Measurement
from profiler.adb.batch_run import run_batch
from profiler.adb.calls import RunnerCall, RunnerCalls
from profiler.adb.client import AdbDevice
from profiler.adb.session import RunnerOverrun, call_runner, per_run_times, run_script
from profiler.adb.watch import PhoneWatch
from profiler.base import BackendError, DeviceLostError, OnRow, Workload

Heartbeat = Callable[[str], None] | None


class PhoneTiming:
    """One session's timing on one phone (made by the backend once it is set up)."""

    def __init__(
        self, device: AdbDevice, watch: PhoneWatch, calls: RunnerCalls, mask: str, check_every: int
    ) -> None:
        self.device, self.watch, self.calls, self.mask = device, watch, calls, mask
        self.check_every = check_every
        self.row_note: str | None = None  # set when the LUT is opened
        self.measured = 0
        self._since_check = check_every  # check before the first layer

    def _check_between(self, heartbeat: Heartbeat) -> None:
        self.watch.heartbeat = heartbeat
        if self._since_check >= self.check_every:
            when = "before layer" if not self.measured else "between batches"
            self.watch.check(when, self.measured)
            self._since_check = 0

    def _count(self, m: Measurement) -> Measurement:
        self._since_check += 1
        self.measured += 1
        return replace(m, note=self.row_note) if self.row_note else m

    def _overrun(self, call: RunnerCall, limit_s: float) -> None:
        what = {"layers_done": self.measured, "limit_s": limit_s, "what": call.where}
        self.watch.note("runner_overruns", what)

    def measure(
        self, workload: Workload, warmup: int, runs: int, heartbeat: Heartbeat
    ) -> Measurement:
        _check_counts(warmup, runs)
        try:
            self._check_between(heartbeat)
            m = self._measure(self.calls.plan(workload, warmup, runs), heartbeat)
        except DeviceLostError as exc:
            raise DeviceLostError(f"measuring {workload.key}: {exc}") from exc
        return self._count(m)

    def _measure(self, call: RunnerCall, heartbeat: Heartbeat) -> Measurement:
        device, work_dir = self.device, self.calls.work_dir
        device.push(call.local, call.remote, mode=0o644)
        stale = [call.result_file] if call.result_file else []
        script = run_script(work_dir, self.mask, call.command, stale, [call.remote])
        limit_s = self.calls.limit_s(call)
        try:
            r = call_runner(device, script, work_dir, limit_s, call.where, heartbeat)
        except RunnerOverrun:
            self._overrun(call, limit_s)
            raise
        samples = []
        if call.result_file is not None and r.returncode == 0:
            samples = per_run_times(device, f"{work_dir}/{call.result_file}", call.where)
        return self.calls.read(call, r.returncode, r.stdout + r.stderr, samples)

    def measure_batch(
        self, workloads: Sequence[Workload], warmup: int, runs: int, on_row: OnRow, beat: Heartbeat
    ) -> None:
        """Time ``workloads`` with one push and one shell; ``on_row(index, measurement or
        BackendError)`` hears each once, as soon as it is timed.

        Raises:
            DeviceLostError: the phone went away; rows already handed over stay handed over.
        """
        _check_counts(warmup, runs)
        try:
            self._check_between(beat)
            planned, indices = [], []
            for i, workload in enumerate(workloads):
                try:
                    planned.append(self.calls.plan(workload, warmup, runs))
                    indices.append(i)
                except BackendError as exc:
                    on_row(i, exc)

            def on_call(pos: int, result: Measurement | BackendError) -> None:
                m = result if isinstance(result, BackendError) else self._count(result)
                on_row(indices[pos], m)

            if planned:
                run_batch(self.device, self.calls, planned, self.mask, on_call, beat, self._overrun)
        except DeviceLostError as exc:
            first = workloads[0].key if workloads else ""
            raise DeviceLostError(
                f"measuring {len(workloads)} layers ({first}, ...): {exc}"
            ) from exc


def _check_counts(warmup: int, runs: int) -> None:
    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
