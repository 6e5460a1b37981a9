"""XNNPACK's fp16 mode on the host: whether this CPU runs it, and a runner that uses it.

``ai_edge_litert``'s Interpreter applies XNNPACK with its default flags and has no option for
others; its CompiledModel API takes XNNPACK's flag bits (``CpuOptions(xnnpack_flags=...)``),
so fp16 runs there: :data:`XNNPACK_FLAGS` = QS8 | QU8 | FORCE_FP16 (``xnnpack_delegate.h``:
0x1, 0x2, 0x4), the same mode as ``benchmark_model --xnnpack_force_fp16=true``.

Where the CPU has no fp16 arithmetic XNNPACK either refuses the mode or ignores the flag; a
probe (:func:`fp16_problem`) runs a small fp32 graph both ways and accepts fp16 only when the
forced run succeeds and differs from the fp32 run by fp16 rounding (neither identical nor far).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

XNNPACK_FLAGS = 0x1 | 0x2 | 0x4  # QS8 | QU8 | FORCE_FP16
_DEFAULT_FLAGS = 0x1 | 0x2


class CompiledRunner:
    """Runs a ``.tflite`` file with LiteRT's CompiledModel on the CPU (XNNPACK; in fp16 mode
    with ``fp16``) on a fixed random input; calling it runs the model once."""

    def __init__(self, path: Path | str, threads: int, fp16: bool = True) -> None:
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        from ai_edge_litert.options import CpuOptions, Options

        flags = XNNPACK_FLAGS if fp16 else _DEFAULT_FLAGS
        options = Options(
            hardware_accelerators=HardwareAccelerator.CPU,
            cpu_options=CpuOptions(num_threads=threads, xnnpack_flags=flags),
        )
        self.model = CompiledModel.from_file(str(path), options=options)
        self.inputs = self.model.create_input_buffers(0)
        self.outputs = self.model.create_output_buffers(0)
        signature = next(iter(self.model.get_signature_list()))
        details = self.model.get_input_tensor_details(signature)
        rng = np.random.default_rng(0)
        for buffer, detail in zip(self.inputs, details.values(), strict=True):
            buffer.write(rng.standard_normal(detail["shape"]).astype(np.float32))

    def __call__(self) -> None:
        self.model.run_by_index(0, self.inputs, self.outputs)

    def output(self, size: int) -> np.ndarray:
        """The first output's ``size`` float32 values after a run."""
        return self.outputs[0].read(size, np.float32)


@functools.cache
def fp16_problem() -> str | None:
    """Why this host cannot time fp16 (None: it can): the probe of the module docstring."""
    import tempfile

    import torch

    from profiler.tflite import module_to_tflite

    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU()).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.tflite"
        path.write_bytes(module_to_tflite(conv, (1, 8, 8, 8)))
        try:
            outs = []
            for fp16 in (False, True):
                run = CompiledRunner(path, 1, fp16)
                run()
                outs.append(run.output(8 * 8 * 16))
        except Exception as exc:  # the runtime's own words: why it refused
            return f"LiteRT could not run XNNPACK in fp16 mode here ({exc})"
    return fp16_verdict(outs[0], outs[1])


def fp16_verdict(fp32_out: np.ndarray, fp16_out: np.ndarray) -> str | None:
    """None when ``fp16_out`` differs from ``fp32_out`` the way fp16 arithmetic does (by more
    than nothing, by less than 1 % of the largest value), else what is wrong."""
    diff = float(np.abs(fp16_out - fp32_out).max() / (np.abs(fp32_out).max() or 1.0))
    if diff == 0.0:
        return "XNNPACK ignored its fp16 flag on this CPU (the fp16 run equals the fp32 run)"
    if not diff <= 1e-2:
        return f"XNNPACK's fp16 run is {diff:.1%} off the fp32 run on this CPU: not fp16 rounding"
    return None
