"""The batch protocol: several runner calls in one ``adb shell``, their outputs kept apart.

One script runs the calls in turn (each as :func:`profiler.adb.session.runner_lines` runs it
alone: pinned, pid kept, stderr merged, its model file removed after it) and prints a marker
line around each::

    @lutnas-batch <token> begin 3
    <the runner's output>
    @lutnas-batch <token> exit 3 <status>
    <its result file, for a runner that writes one>
    @lutnas-batch <token> done 3

and ``@lutnas-batch <token> end`` after the last. Each marker is printed on a line of its own
(a newline first, in case the runner's output did not end with one), and ``<token>`` is random
per batch, never on the runner's command line: a runner cannot print a marker by accident, nor
one copied from another batch. :class:`BatchOutput` reads the stream as it arrives and hands
back each call as soon as its ``done`` line is in, so a batch cut off midway keeps every call
that finished. The shell's own pid is kept in ``batch.pid`` so that a call past its limit, or
an interrupted run, can end the batch from a fresh shell (:func:`profiler.adb.session.
kill_script`).
"""

from __future__ import annotations

import codecs
import secrets
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from profiler.adb.session import BATCH_PID_FILE, runner_lines

MARK = "@lutnas-batch"
DEFAULT_BATCH_SIZE = 8  # layers per push and shell (benchmarks/phone_speed.py)


@dataclass(frozen=True, kw_only=True)
class BatchEntry:
    """One runner call of a batch, as the script needs it (phone paths, names in work_dir)."""

    command: str  # the runner's command line
    model: str  # its model file, removed after the call
    result_file: str | None = None  # printed after the call, then removed


@dataclass(frozen=True, kw_only=True)
class CallOutput:
    """What one call of a batch printed: its output (stderr merged), its exit status, and the
    text of its result file ('' without one)."""

    index: int
    returncode: int
    output: str
    result_text: str


def new_token() -> str:
    return secrets.token_hex(8)


def batch_script(work_dir: str, mask: str, entries: Sequence[BatchEntry], token: str) -> str:
    """The shell script running ``entries`` in turn with their markers (see the module)."""
    q = shlex.quote
    mark = f"{MARK} {token}"
    lines = [
        "exec 2>&1",
        f"cd {q(work_dir)} || exit 125",
        f"echo $$ > {BATCH_PID_FILE}",
    ]
    for i, e in enumerate(entries):
        stale = [e.result_file] if e.result_file else []
        lines.append(f"printf '\\n{mark} begin {i}\\n'")
        lines += runner_lines(mask, e.command, stale, [e.model])
        lines.append(f"printf '\\n{mark} exit {i} %d\\n' $rc")
        if e.result_file:
            lines.append(f"cat {q(e.result_file)} 2>/dev/null; rm -f {q(e.result_file)}")
        lines.append(f"printf '\\n{mark} done {i}\\n'")
    lines += [f"rm -f {BATCH_PID_FILE}", f"printf '\\n{mark} end\\n'"]
    return "\n".join(lines)


class BatchOutput:
    """Reads a batch's stdout as it streams: :meth:`feed` returns the calls its bytes complete.

    Attributes:
        running: the index of the call that has begun and not finished (None between calls).
        finished: how many calls have finished.
        ended: the ``end`` marker came (the script ran to its end).
    """

    def __init__(self, token: str) -> None:
        self.mark = f"{MARK} {token} "
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self._section: list[str] = []
        self._status: int | None = None
        self._output = ""
        self.running: int | None = None
        self.finished = 0
        self.ended = False
        self.began: list[int] = []  # indices in the order they began

    def feed(self, data: bytes) -> list[CallOutput]:
        done = []
        text = self._partial + self._decoder.decode(data)
        *lines, self._partial = text.split("\n")
        for line in lines:
            call = self._line(line)
            if call is not None:
                done.append(call)
        return done

    def _line(self, line: str) -> CallOutput | None:
        words = line.removeprefix(self.mark).split() if line.startswith(self.mark) else None
        if not words:  # output of a call (or the shell)
            self._section.append(line)
            return None
        what, numbers = words[0], words[1:]
        if what == "begin" and len(numbers) == 1:
            self.running = int(numbers[0])
            self.began.append(self.running)
        elif what == "exit" and len(numbers) == 2 and self.running == int(numbers[0]):
            self._output, self._status = "\n".join(self._section), int(numbers[1])
        elif what == "done" and self._status is not None and self.running == int(numbers[0]):
            call = CallOutput(
                index=self.running,
                returncode=self._status,
                output=self._output,
                result_text="\n".join(self._section),
            )
            self.running, self._status = None, None
            self.finished += 1
            self._section = []
            return call
        elif what == "end":
            self.ended = True
        else:
            self._section.append(line)
            return None
        self._section = []
        return None

    def tail(self, chars: int = 300) -> str:
        """The last output not yet part of a finished call (what a failing shell printed)."""
        return "\n".join([*self._section, self._partial]).strip()[-chars:]
