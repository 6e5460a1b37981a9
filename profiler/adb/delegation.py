"""A pure parser of what TFLite/LiteRT says about a delegate taking a graph: whole, in part, or
not at all. Sources: tests/data/transcripts/SOURCES.md.

``benchmark_model`` (``benchmark_tflite_model.cc``, since 2020) logs one line per explicitly
applied delegate (stdout, ``INFO: `` or logcat prefixed)::

    Explicitly applied GPU delegate, and the model graph will be completely executed by the
        delegate.
    Explicitly applied NNAPI delegate, and the model graph will be partially executed by the
        delegate w/ 44 delegate kernels.
    Though GPU delegate is explicitly applied, the model graph will not be executed by the delegate.
    Failed to apply XNNPACK delegate.                          (then 'Benchmarking failed.')

The GPU delegate itself reports the ops it refuses (stderr, ``ERROR: ``), in three wordings::

    Following operations are not supported by GPU delegate:    (2020 on; 'Next operations' before)
    UNPACK: Operation is not supported.                        (one line per refused op kind)
    294 operations will run on the GPU, and the remaining 12 operations will run on the CPU.
    First 160 operations will run on the GPU, and the remaining 7 on the CPU.        (to 2021)
    No operations will run on the GPU, and all 65 operations will run on the CPU.

and ``Created N GPU delegate kernels.`` (N = 0: it took nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# log prefixes a line may carry: logcat's 'MM-DD HH:MM:SS.mmm PID TID E tflite  : ', Android
# Studio's 'E/tflite: ', the tool's own 'INFO: ' / 'ERROR: ' / 'VERBOSE: ', an indent
_PREFIX = re.compile(
    r"^\s*(?:\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+\S+\s*:\s?"
    r"|[VDIWEF]/\S+?:\s?)?(?:(?:INFO|WARN|WARNING|ERROR|VERBOSE):\s)?"
)
_OP_LINE = re.compile(r"^([A-Z][A-Z0-9_]*[A-Z0-9]):\s*(.*)$")
_GPU_COUNTS = (
    re.compile(r"(\d+) operations will run on the GPU, and the remaining (\d+) operations"),
    re.compile(r"First (\d+) operations will run on the GPU, and the remaining (\d+) on the CPU"),
)
_GPU_NONE = re.compile(r"No operations will run on the GPU, and all (\d+) operations")


@dataclass(frozen=True, kw_only=True)
class Delegation:
    """What the output says about one delegate.

    ``status``: ``complete`` (the whole graph), ``partial`` (some of it, the rest on the CPU),
    ``none`` (nothing of it), ``failed`` (the delegate could not be applied), ``unknown`` (the
    output says nothing: runners from before 2020, or no such delegate requested).
    """

    delegate: str  # as the tool names it: XNNPACK, GPU, NNAPI
    status: str
    kernels: int | None = None  # delegate kernels (partitions) it made
    on_delegate: int | None = None  # ops it runs (GPU messages)
    on_cpu: int | None = None  # ops left to the CPU (GPU messages)
    refused: tuple[str, ...] = ()  # 'OP: reason' lines

    @property
    def whole(self) -> bool:
        return self.status == "complete"

    def describe(self) -> str:
        """One clause for an error message."""
        parts = []
        if self.kernels is not None:
            parts.append(f"{self.kernels} delegate kernels")
        if self.on_delegate is not None:
            parts.append(f"{self.on_delegate} ops on the {self.delegate}, {self.on_cpu} on the CPU")
        if self.refused:
            parts.append("refused: " + "; ".join(self.refused[:5]))
        said = {
            "partial": "took only part of the graph",
            "none": "took none of the graph",
            "failed": "could not be applied",
            "unknown": "printed no delegation summary",
        }.get(self.status, "took the whole graph")
        return f"the {self.delegate} delegate {said}" + (f" ({', '.join(parts)})" if parts else "")


def _lines(text: str) -> list[str]:
    return [_PREFIX.sub("", line, count=1).strip() for line in text.splitlines()]


def parse_delegation(text: str, delegate: str) -> Delegation:
    """What ``text`` (a runner's stdout and stderr) says about ``delegate`` (XNNPACK, GPU or
    NNAPI; case as the tool prints it). The last summary wins."""
    name = re.escape(delegate)
    status, kernels = "unknown", None
    on_delegate = on_cpu = None
    refused: list[str] = []
    listing = False
    for line in _lines(text):
        if re.search(rf"Failed to apply {name} delegate", line):
            status = "failed"
        elif re.search(
            rf"Explicitly applied {name} delegate, and the model graph will be "
            r"completely executed",
            line,
        ):
            status = "complete"
        elif m := re.search(
            rf"Explicitly applied {name} delegate, and the model graph will be "
            r"partially executed by the delegate w/ (\d+) delegate kernels",
            line,
        ):
            status, kernels = "partial", int(m.group(1))
        elif re.search(rf"Though {name} delegate is explicitly applied", line):
            status = "none"
        if delegate != "GPU":
            continue
        if re.search(r"(?:Following|Next) operations are not supported by GPU delegate", line):
            listing, refused = True, []
            continue
        counted = next((p.search(line) for p in _GPU_COUNTS if p.search(line)), None)
        if counted:
            on_delegate, on_cpu, listing = int(counted.group(1)), int(counted.group(2)), False
        elif m := _GPU_NONE.search(line):
            on_delegate, on_cpu, listing = 0, int(m.group(1)), False
        elif m := re.search(r"Created (\d+) GPU delegate kernels", line):
            kernels = int(m.group(1)) if kernels is None else kernels
        elif listing and (op := _OP_LINE.match(line)):
            refused.append(f"{op.group(1)}: {op.group(2)}".rstrip(": "))
        elif listing and line:
            listing = False
    if status == "unknown" and delegate == "GPU":  # the delegate's own messages decide
        if on_delegate == 0 or kernels == 0:
            status = "none"
        elif on_cpu or refused:
            status = "partial"
    return Delegation(
        delegate=delegate,
        status=status,
        kernels=kernels,
        on_delegate=on_delegate,
        on_cpu=on_cpu,
        refused=tuple(refused),
    )
