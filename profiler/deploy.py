"""The found network as a file a phone runs: the ``.tflite`` of an architecture in a precision,
and the ``benchmark_model`` command that times it the way a LUT of that precision and delegate
was timed.

The file is the one the TFLite backends time (:func:`profiler.export.tflite_path`, cached): fp32
for fp32 and fp16 (fp16 is XNNPACK's or the GPU's fp16 mode on the fp32 file), fully quantized
int8 for int8 (int8 input and output; scales from random calibration inputs, so re-quantize
with real data before deploying the trained network).
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from profiler.adb.delegates import benchmark_model_flags, check_combination
from profiler.export import tflite_path
from profiler.precision import DEFAULT_DELEGATE, file_precision
from profiler.workloads import arch_workload


def write_tflite(arch, path: str | Path, precision: str = "fp32") -> Path:
    """Write the ``.tflite`` file of ``arch`` (a :class:`lutnas.spaces.arch.Arch`; eval mode,
    random weights, the space's head) at ``precision`` to ``path``.

    Raises:
        BackendError: the file could not be written (the workload named).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tflite_path(arch_workload(arch), precision=file_precision(precision)), path)
    return path


def benchmark_command(
    path: str | Path, precision: str = "fp32", delegate: str = DEFAULT_DELEGATE, threads: int = 1
) -> str:
    """The ``benchmark_model`` command line that times ``path`` like a LUT of ``precision`` and
    ``delegate`` (after ``adb push path /data/local/tmp/``)."""
    check_combination(precision, delegate, "benchmark_model")
    remote = f"/data/local/tmp/{Path(path).name}"
    flags = [f"--graph={remote}", f"--num_threads={threads}"]
    flags += benchmark_model_flags(precision, delegate)
    return "adb shell /data/local/tmp/benchmark_model " + " ".join(shlex.quote(f) for f in flags)
