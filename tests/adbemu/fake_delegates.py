"""Precision and delegates for the stand-in ``benchmark_model`` (``fake_benchmark_model.py``).

Flags it adds to the stand-in, as the real delegate providers declare and log them
(``tflite/tools/delegates``): ``--xnnpack_force_fp16`` (logged ``xnnpack_force_fp16``),
``--use_gpu`` (``Use gpu``), ``--gpu_precision_loss_allowed`` (``Allow lower precision in gpu``),
``--use_nnapi`` (``Use NNAPI``), ``--nnapi_allow_fp16`` (``Allow fp16 in NNAPI``).

What the emulated phone does with them:

- ``--use_xnnpack=true --xnnpack_force_fp16=true``: the file runs in XNNPACK's fp16 mode through
  LiteRT's CompiledModel (the host CPU's fp16), like the real flag on an arm64 core;
- int8 files need nothing: LiteRT's interpreter runs them (XNNPACK's int8 kernels);
- ``--use_gpu`` / ``--use_nnapi``: the phone has no GPU or NPU here. The graph runs on LiteRT's CPU
  kernels, and the delegate's messages are those a delegate prints that takes every op but the
  kinds named in ``ADBEMU_DELEGATE_REFUSES`` (comma separated, e.g. ``MEAN``): the GPU delegate's
  refusal report (stderr), ``Created N GPU delegate kernels.``, and the tool's ``Explicitly
  applied ...`` line (stdout), worded as tests/data/transcripts/SOURCES.md records;
- XNNPACK: the ``Explicitly applied XNNPACK delegate ...`` line says what LiteRT's XNNPACK
  delegate really made of the file (one partition over the whole graph, or how many).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

REFUSES_ENV = "ADBEMU_DELEGATE_REFUSES"
_FORCE_FP16_FLAGS = 0x1 | 0x2 | 0x4  # XNNPACK QS8 | QU8 | FORCE_FP16 (xnnpack_delegate.h)

# (name, type, default, usage) appended to the stand-in's flags, in the providers' order
FLAGS: list[tuple[str, str, object, str]] = [
    ("xnnpack_force_fp16", "bool", False, "enforce float16 inference."),
    ("use_gpu", "bool", False, "use gpu"),
    (
        "gpu_precision_loss_allowed",
        "bool",
        True,
        "Allow to process computation in lower precision than FP32 in GPU. By default, it's "
        "enabled.",
    ),
    ("use_nnapi", "bool", False, "use nnapi delegate api"),
    ("nnapi_allow_fp16", "bool", False, "Allow fp32 computation to be run in fp16"),
]
LOGGED: list[tuple[str, str, bool]] = [
    ("xnnpack_force_fp16", "xnnpack_force_fp16", False),
    ("use_gpu", "Use gpu", False),
    ("gpu_precision_loss_allowed", "Allow lower precision in gpu", False),
    ("use_nnapi", "Use NNAPI", False),
    ("nnapi_allow_fp16", "Allow fp16 in NNAPI", False),
]


def _out(msg: str) -> None:
    print(f"INFO: {msg}", flush=True)


def _err(msg: str, level: str = "INFO") -> None:
    print(f"{level}: {msg}", file=sys.stderr, flush=True)


class Fp16Runner:
    """The file in XNNPACK's fp16 mode (LiteRT CompiledModel), fed random inputs."""

    def __init__(self, graph: str, threads: int) -> None:
        import numpy as np
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        from ai_edge_litert.options import CpuOptions, Options

        options = Options(
            hardware_accelerators=HardwareAccelerator.CPU,
            cpu_options=CpuOptions(num_threads=max(threads, 1), xnnpack_flags=_FORCE_FP16_FLAGS),
        )
        self.graph = graph
        self.model = CompiledModel.from_file(graph, options=options)
        self.inputs = self.model.create_input_buffers(0)
        self.outputs = self.model.create_output_buffers(0)
        details = self.model.get_input_tensor_details(next(iter(self.model.get_signature_list())))
        rng = np.random.default_rng(0)
        for buffer, detail in zip(self.inputs, details.values(), strict=True):
            buffer.write(rng.standard_normal(detail["shape"]).astype(np.float32))

    def ops(self) -> list[str]:
        return graph_ops(self.graph)

    def invoke_us(self) -> int:
        start_us = time.perf_counter_ns() // 1000
        self.model.run_by_index(0, self.inputs, self.outputs)
        return time.perf_counter_ns() // 1000 - start_us


def make_runner(runner_cls: type, graph: str, threads: int, values: dict[str, Any], xnnpack):
    """The stand-in's runner for these flags: fp16 mode, the CPU kernels under an emulated GPU or
    NNAPI, or ``runner_cls`` (the stand-in's interpreter runner) as asked."""
    if values["xnnpack_force_fp16"] and xnnpack:
        return Fp16Runner(graph, threads)
    if values["use_gpu"] or values["use_nnapi"]:
        return runner_cls(graph, threads, False if xnnpack is None else xnnpack)
    return runner_cls(graph, threads, xnnpack)


def graph_ops(graph: str) -> list[str]:
    """The file's op names in execution order (no delegate applied)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=graph,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    return [op["op_name"] for op in interpreter._get_ops_details()]


def xnnpack_partitions(graph: str) -> tuple[int, bool]:
    """(XNNPACK partitions LiteRT makes of the file, whether one takes the whole graph: it reads
    only the graph's input and constants and writes the graph's output)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=graph, num_threads=1)
    interpreter.allocate_tensors()
    details = interpreter._get_ops_details()
    nodes = [n for n in details if n["op_name"] == "DELEGATE"]
    if len(nodes) != 1:
        return len(nodes), False
    inputs = {d["index"] for d in interpreter.get_input_details()}
    outputs = {d["index"] for d in interpreter.get_output_details()}
    produced = {int(t) for n in details for t in n["outputs"]}
    constants = {t["index"] for t in interpreter.get_tensor_details()} - produced - inputs
    reads = {int(t) for t in nodes[0]["inputs"]}
    writes = {int(t) for t in nodes[0]["outputs"]}
    return 1, writes == outputs and reads <= inputs | constants


def _runs(supported: list[bool]) -> int:
    """Maximal runs of supported ops in execution order (the delegate's kernels)."""
    return sum(1 for i, ok in enumerate(supported) if ok and (i == 0 or not supported[i - 1]))


def _applied(name: str, kernels: int, whole: bool) -> None:
    if whole:
        _out(
            f"Explicitly applied {name} delegate, and the model graph will be completely "
            "executed by the delegate."
        )
    elif kernels:
        _out(
            f"Explicitly applied {name} delegate, and the model graph will be partially "
            f"executed by the delegate w/ {kernels} delegate kernels."
        )
    else:
        _out(
            f"Though {name} delegate is explicitly applied, the model graph will not be "
            "executed by the delegate."
        )


def report(graph: str, values: dict[str, Any], xnnpack) -> None:
    """Print what each delegate asked for made of ``graph`` (see the module docstring)."""
    refuses = {op.strip() for op in os.environ.get(REFUSES_ENV, "").split(",") if op.strip()}
    if values["use_gpu"]:
        _err("Created TensorFlow Lite delegate for GPU.")
        _out("GPU delegate created.")
        ops = graph_ops(graph)
        supported = [op not in refuses for op in ops]
        refused = sorted({op for op in ops if op in refuses})
        if refused:
            lines = [f"{op}: Operation is not supported." for op in refused]
            on_gpu = sum(supported)
            lines.append(
                f"{on_gpu} operations will run on the GPU, and the remaining "
                f"{len(ops) - on_gpu} operations will run on the CPU."
            )
            _err(
                "Following operations are not supported by GPU delegate:\n" + "\n".join(lines),
                "ERROR",
            )
        kernels = _runs(supported)
        _err(f"Created {kernels} GPU delegate kernels.")
        _applied("GPU", kernels, not refused)
    if values["use_nnapi"]:
        _err("Created TensorFlow Lite delegate for NNAPI.")
        _out("NNAPI delegate created.")
        supported = [op not in refuses for op in graph_ops(graph)]
        _applied("NNAPI", _runs(supported), all(supported))
    if xnnpack:
        _out("XNNPACK delegate created.")
        partitions, whole = xnnpack_partitions(graph)
        _applied("XNNPACK", partitions, whole)
