"""A batch of runner calls sent to the phone: one push, one shell, each call read as it ends.

:func:`run_batch` pushes the model files of the calls in one sync session, runs them in one
shell (:mod:`profiler.adb.batch`) and hands each call's measurement, or its error, to
``on_call`` as soon as the call's output is complete, while the shell still runs the next.

Limits: each call keeps the limit it has alone (:meth:`profiler.adb.calls.RunnerCalls.limit_s`),
counted from its own start, so a batch of N calls may take N limits, and a call that passes its
limit is killed on the phone with the batch's shell (:func:`profiler.adb.session.kill_script`);
that call fails (:class:`RunnerOverrun`) and the calls the shell had not started yet are sent
again as a batch of their own. A shell that fails another way (its stream broken while the
phone is still attached) fails the call that was running and resends the rest the same way, so
each round settles at least one call. A lost or frozen phone raises
:class:`DeviceLostError` at once: calls already handed over stay handed over.
Files: each model is removed by the shell after its call; whatever a cut-off batch left is
removed at the end (the work directory goes at the end of the session anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from lut.measurement import Measurement
from profiler.adb.batch import BatchEntry, BatchOutput, CallOutput, batch_script, new_token
from profiler.adb.calls import RunnerCall, RunnerCalls
from profiler.adb.client import AdbDevice, NoAnswerError
from profiler.adb.session import CLEANUP_TIMEOUT_S, RunnerOverrun, kill_script, per_run_times_in
from profiler.adb.shellv2 import Deadline
from profiler.base import BackendError, DeviceLostError, OnRow

log = logging.getLogger(__name__)


class _CallerStopped(Exception):
    """``on_call`` raised: carries its exception out of the stream, past the adb error mapping."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def run_batch(
    device: AdbDevice,
    calls: RunnerCalls,
    planned: Sequence[RunnerCall],
    mask: str,
    on_call: OnRow,
    heartbeat: Callable[[str], None] | None = None,
    on_overrun: Callable[[RunnerCall, float], None] | None = None,
) -> None:
    """Run ``planned`` (see the module); ``on_call(index, measurement or BackendError)`` hears
    each call once, as soon as it ends (an exception it raises stops the batch and is raised).

    Raises:
        DeviceLostError: the phone went away or stopped answering.
    """
    left = list(range(len(planned)))
    clean = True
    while left:
        settled: set[int] = set()

        def deliver(pos: int, result: Measurement | BackendError, left=left, settled=settled):
            settled.add(pos)
            if isinstance(result, RunnerOverrun) and on_overrun is not None:
                on_overrun(planned[left[pos]], calls.limit_s(planned[left[pos]]))
            on_call(left[pos], result)

        ended = _one_round(device, calls, [planned[i] for i in left], mask, deliver, heartbeat)
        clean = clean and ended
        left = [i for pos, i in enumerate(left) if pos not in settled]
    if not clean:
        try:
            device.remove(*{c.remote for c in planned}, timeout_s=CLEANUP_TIMEOUT_S * 2)
        except BackendError as exc:
            log.warning("phone %s: model files left in the work directory (%s)", device.serial, exc)


def _one_round(
    device: AdbDevice,
    calls: RunnerCalls,
    planned: list[RunnerCall],
    mask: str,
    deliver: OnRow,
    heartbeat: Callable[[str], None] | None,
) -> bool:
    """Push and run ``planned`` once, delivering each call that settles by its position; calls
    the shell did not start are left (unless none settled: then the first fails). True when
    the shell ran every call to its end (and so removed every model file)."""
    try:
        device.push_many([(c.local, c.remote, 0o644) for c in planned])
    except DeviceLostError:
        raise
    except BackendError as exc:
        for i, c in enumerate(planned):
            deliver(i, BackendError(f"{c.where}: {exc}"))
        return False
    token = new_token()
    entries = [
        BatchEntry(command=c.command, model=c.local.name, result_file=c.result_file)
        for c in planned
    ]
    reader = BatchOutput(token)
    deadline = Deadline(calls.limit_s(planned[0]))
    name = calls.kind.name

    def on_stdout(data: bytes) -> None:
        running = reader.running
        try:
            for out in reader.feed(data):
                deliver(out.index, _measurement(calls, planned[out.index], out))
        except BaseException as exc:  # the caller's: out past the adb error mapping
            raise _CallerStopped(exc) from exc
        if reader.running is not None and reader.running != running:
            deadline.restart(calls.limit_s(planned[reader.running]))

    def tick(_: float) -> None:
        if heartbeat is not None:
            waited = deadline.limit_s - deadline.left_s()
            heartbeat(
                f"{name} on the phone: layer {reader.finished + 1} of {len(planned)}, "
                f"{waited:.0f} of ≤{deadline.limit_s:.0f} s"
            )

    script = batch_script(calls.work_dir, mask, entries, token)
    try:
        result = device.shell(script, deadline, tick, doing=f"running {name}", on_stdout=on_stdout)
    except _CallerStopped as stop:
        raise stop.error from None
    except NoAnswerError:
        killed = device.shell(kill_script(calls.work_dir)).stdout.strip()
        where = planned[_in_flight(reader, planned)].where
        error: BackendError = RunnerOverrun(
            f"{where} ran past its limit of {deadline.limit_s:.0f} s and was "
            f"{'killed on the phone' if killed else 'gone when we looked'}; if the layer is "
            "really that slow, raise --runner-timeout"
        )
    except DeviceLostError:
        raise
    except BackendError as exc:
        try:
            device.shell(kill_script(calls.work_dir), timeout_s=CLEANUP_TIMEOUT_S, quick=True)
        except BackendError as kill_exc:
            log.warning("phone %s: could not end the batch (%s)", device.serial, kill_exc)
        error = BackendError(f"{planned[_in_flight(reader, planned)].where}: {exc}")
    else:
        if reader.finished == len(planned):
            return True
        error = BackendError(
            f"{planned[_in_flight(reader, planned)].where}: the batch's shell ended early "
            f"(exit {result.returncode}): {reader.tail() or 'no output'}"
        )
    if reader.finished < len(planned):
        deliver(_in_flight(reader, planned), error)
    return False


def _in_flight(reader: BatchOutput, planned: list) -> int:
    """The call that was running when the shell failed, else the first that did not begin."""
    if reader.running is not None:
        return reader.running
    return min(len(reader.began), len(planned) - 1)


def _measurement(calls: RunnerCalls, call: RunnerCall, out: CallOutput):
    samples = per_run_times_in(out.result_text, call.where) if call.result_file else []
    try:
        return calls.read(call, out.returncode, out.output, samples)
    except BackendError as exc:
        return exc
