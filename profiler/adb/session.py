"""A runner call on the phone: its shell script, how long it may take, and how it is stopped.

The runner runs in the background of a small script that writes its pid to ``runner.pid`` in
the work directory, so a call that overruns its limit can be ended *on the phone* from a fresh
shell (:func:`kill_script`), and a run that was cut off (Ctrl-C, a crash, a frozen phone) is
cleaned up when the next one starts. Its stderr is merged into its stdout (``2>&1``): releases
before 2020 logged everything to stderr.

The limit of a call scales with the work (:class:`RunnerLimits`): a start-up allowance for the
process, the model load and the delegate, plus an allowance per run (warm-up and timed, and
the tool's own warm-up) of at least :attr:`RunnerLimits.per_run_floor_s`, or ``margin`` times
the slowest run seen so far in this session, whichever is larger. ``--runner-timeout`` fixes it.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from lutnas.errors import LutnasError
from profiler.adb.client import AdbDevice, NoAnswerError, ShellResult
from profiler.adb.parsers import ParseError, parse_perf_test_result_file
from profiler.base import BackendError

log = logging.getLogger(__name__)
PID_FILE = "runner.pid"
BATCH_PID_FILE = "batch.pid"  # the shell of a batch of runner calls
CLEANUP_TIMEOUT_S = 4.0  # the clean-up after an interruption or a failure


class RunnerOverrun(BackendError):
    """A runner call passed its limit; the runner was killed on the phone. The layer fails."""


@dataclass(frozen=True, kw_only=True)
class RunnerLimits:
    fixed_s: float | None = None  # --runner-timeout: this many seconds per call, whatever it does
    start_s: float = 30.0  # process start, model load, delegate set-up
    per_run_floor_s: float = 1.0  # every run may take this long ...
    margin: float = 5.0  # ... or this many times the slowest run seen so far

    def limit_s(self, runs: int, slowest_run_ms: float | None = None) -> float:
        """Seconds a call of ``runs`` runs (warm-up included) may take."""
        if self.fixed_s is not None:
            return self.fixed_s
        per_run_s = max(self.per_run_floor_s, self.margin * (slowest_run_ms or 0.0) / 1000.0)
        return self.start_s + max(1, runs) * per_run_s


def runner_lines(mask: str, command_line: str, stale: list[str], done: list[str]) -> list[str]:
    """Shell lines running one runner call in the work directory: ``stale`` files removed
    first, the runner pinned with ``taskset``, its pid in :data:`PID_FILE`, stderr merged into
    stdout, ``done`` files removed after; its status (128 + signal when killed) left in ``rc``."""
    q = shlex.quote
    return [
        " ".join(["rm -f", q(PID_FILE), *map(q, stale)]),
        f"taskset {mask} {command_line} 2>&1 & echo $! > {q(PID_FILE)}",
        "wait $!",
        "rc=$?",
        " ".join(["rm -f", q(PID_FILE), *map(q, done)]),
    ]


def run_script(
    work_dir: str, mask: str, command_line: str, stale: list[str], done: list[str]
) -> str:
    """The shell script of one runner call (:func:`runner_lines`); exits with the runner's
    status."""
    lines = runner_lines(mask, command_line, stale, done)
    return "; ".join([f"cd {shlex.quote(work_dir)} || exit 125", *lines, "exit $rc"])


def kill_script(work_dir: str) -> str:
    """Kill what a :func:`run_script` or a batch (:mod:`profiler.adb.batch`) left running: the
    batch's shell first (so it starts no further runner), then the runner; none: nothing
    happens. Prints ``killed PID`` for each."""
    kills = []
    for name in (BATCH_PID_FILE, PID_FILE):
        pid_file = shlex.quote(f"{work_dir}/{name}")
        kills.append(
            f"if [ -f {pid_file} ]; then p=$(cat {pid_file}); rm -f {pid_file}; "
            f'case "$p" in *[!0-9]*|"") ;; *) kill -9 "$p" 2>/dev/null && echo "killed $p";; '
            "esac; fi"
        )
    return "; ".join([*kills, "true"])


def call_runner(
    device: AdbDevice,
    script: str,
    work_dir: str,
    limit_s: float,
    where: str,
    heartbeat: Callable[[str], None] | None = None,
) -> ShellResult:
    """Run a :func:`run_script` within ``limit_s``; ``heartbeat`` hears how long it has run.

    Raises:
        RunnerOverrun: the limit passed; the runner was killed from a fresh shell.
        PhoneFrozenError: the phone answers nothing (the run must stop).
    """

    def tick(waited_s: float) -> None:
        if heartbeat is not None:
            heartbeat(f"{where.split(' on ')[0]} on the phone: {waited_s:.0f} of ≤{limit_s:.0f} s")

    try:
        return device.shell(
            script, timeout_s=limit_s, heartbeat=tick, doing=f"running {where.split(' on ')[0]}"
        )
    except NoAnswerError:
        killed = device.shell(kill_script(work_dir)).stdout.strip()
        raise RunnerOverrun(
            f"{where} ran past its limit of {limit_s:.0f} s and was "
            f"{'killed on the phone' if killed else 'gone when we looked'}; if the layer is "
            "really that slow, raise --runner-timeout"
        ) from None


def per_run_times(device: AdbDevice, result_file: str, where: str) -> list[float]:
    """The per-run times in ms of an ``onnxruntime_perf_test`` result file on the phone; []
    when there are none (older runners write no result file)."""
    try:
        text = device.read_file(result_file).decode(errors="replace")
    except BackendError as exc:
        log.warning("%s: no per-run times (%s)", where, exc)
        return []
    return per_run_times_in(text, where)


def per_run_times_in(text: str, where: str) -> list[float]:
    """The per-run times in ms in the text of a result file; [] (logged) when unreadable."""
    try:
        return parse_perf_test_result_file(text)
    except ParseError as exc:
        log.warning("%s: no per-run times (%s)", where, exc)
        return []


def prepare_work_dir(device: AdbDevice, work_dir: str) -> None:
    """Create ``work_dir`` on the phone, check ``taskset`` is there, and end a runner a run
    that was cut off left running.

    Raises:
        LutnasError: the directory cannot be made or there is no ``taskset``.
    """
    setup = device.shell(f"mkdir -p {shlex.quote(work_dir)} && command -v taskset && "
                         f"{kill_script(work_dir)}")  # fmt: skip
    if setup.returncode != 0:
        raise LutnasError(
            f"phone {device.serial}: cannot create {work_dir} or find `taskset` "
            f"({(setup.stderr or setup.stdout).strip()})"
        )
    if "killed" in setup.stdout:
        log.warning("phone %s: ended a runner an earlier run left running", device.serial)


def clean_work_dir(device: AdbDevice, work_dir: str, after_failure: bool) -> None:
    """End a runner still running and delete ``work_dir``; ``after_failure`` (an error or
    Ctrl-C): within :data:`CLEANUP_TIMEOUT_S`, without asking a silent phone again, so leaving
    takes seconds whatever the phone's state. Failures are logged, not raised."""
    script = f"{kill_script(work_dir)}; rm -rf {shlex.quote(work_dir)}"
    try:
        if after_failure:
            device.shell(script, timeout_s=CLEANUP_TIMEOUT_S, quick=True)
        else:
            device.shell(script)
    except BackendError as exc:  # DeviceLostError too
        log.warning("could not clean %s on %s: %s", work_dir, device.serial, exc)
