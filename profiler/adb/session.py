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

import shlex
from dataclasses import dataclass

PID_FILE = "runner.pid"


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


def run_script(
    work_dir: str, mask: str, command_line: str, stale: list[str], done: list[str]
) -> str:
    """The shell script of one runner call: ``stale`` files removed first, the runner pinned
    with ``taskset``, its pid in :data:`PID_FILE`, stderr merged into stdout, ``done`` files
    removed after; exits with the runner's status (128 + signal when it was killed)."""
    q = shlex.quote
    return "; ".join(
        [
            f"cd {q(work_dir)} || exit 125",
            " ".join(["rm -f", q(PID_FILE), *map(q, stale)]),
            f"taskset {mask} {command_line} 2>&1 & echo $! > {q(PID_FILE)}",
            "wait $!",
            "rc=$?",
            " ".join(["rm -f", q(PID_FILE), *map(q, done)]),
            "exit $rc",
        ]
    )


def kill_script(work_dir: str) -> str:
    """Kill the runner a :func:`run_script` left running (none: nothing happens); prints
    ``killed PID`` when there was one."""
    pid_file = shlex.quote(f"{work_dir}/{PID_FILE}")
    return (
        f"if [ -f {pid_file} ]; then p=$(cat {pid_file}); rm -f {pid_file}; "
        f'case "$p" in *[!0-9]*|"") ;; *) kill -9 "$p" 2>/dev/null && echo "killed $p";; esac; '
        "fi; true"
    )
