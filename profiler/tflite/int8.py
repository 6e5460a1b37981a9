"""Fully quantized ``.tflite`` files: a module's fp32 graph, calibrated, rewritten in int8.

Steps: :func:`with_batch_statistics` gives the module's BatchNorm layers the statistics of
random inputs (a randomly initialised network's activations otherwise shrink layer by layer until
int8 holds nothing but zeros: a trained network's BN keeps them at unit scale, and so does this;
Once-for-All re-estimates BN statistics of its sub-networks the same way);
:func:`profiler.tflite.convert.module_to_graph` writes the fp32 graph (BN folded, fused
activations); :mod:`profiler.tflite.calibrate` runs it on random inputs and records every
tensor's range; :mod:`profiler.tflite.quantize` rewrites it op by op in TFLite's int8 scheme.
The result is then checked (:func:`check_int8`): a file with an op further than
:data:`MAX_OP_ERROR` from its fp32 op (saturated or collapsed tensors), or that XNNPACK does not
run as one partition, is refused, so no timing ever comes from a degenerate or split graph.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from profiler.tflite.calibrate import (
    CALIBRATION_SAMPLES,
    CALIBRATION_SEED,
    calibrate,
    calibration_inputs,
)
from profiler.tflite.convert import module_to_graph
from profiler.tflite.graph import Graph
from profiler.tflite.int8_check import delegated_partitions, op_errors
from profiler.tflite.quantize import Quantizer
from profiler.tflite.rules import ConversionError

# relative L2 error of an int8 op's output against its fp32 op's on the same inputs, above which
# the file is refused (int8 ops here are at 0.2-3 %; a collapsed or saturated tensor near 100 %)
MAX_OP_ERROR = 0.1
BN_BATCH = 2  # random inputs whose statistics the BatchNorm layers get (× H × W positions)


def module_to_int8_tflite(
    module: nn.Module,
    input_shape: Sequence[int],
    samples: int = CALIBRATION_SAMPLES,
    seed: int = CALIBRATION_SEED,
    batch_statistics: bool = True,
) -> bytes:
    """The fully quantized ``.tflite`` bytes of ``module`` (int8 input and output, same layout
    as :func:`profiler.tflite.module_to_tflite`), calibrated on ``samples`` random inputs;
    with ``batch_statistics``, of :func:`with_batch_statistics` of it (``module`` itself is
    not changed).

    Raises:
        ConversionError: a module the fp32 writer cannot write, an op without an int8 rule, an
            op too far from its fp32 op, or a graph XNNPACK splits (the error says which).
    """
    if input_shape and isinstance(input_shape[0], (tuple, list)):
        raise ConversionError(
            f"int8 files are written for one-input units only, and this one takes "
            f"{len(input_shape)}; profile it in fp32 or fp16"
        )
    if batch_statistics:
        with bn_statistics(module, input_shape, seed):
            graph, y = module_to_graph(module, input_shape)
    else:
        graph, y = module_to_graph(module, input_shape)
    if isinstance(y, list):
        raise ConversionError(
            f"int8 files are written for one-output units only, and this one gives {len(y)}; "
            "profile it in fp32 or fp16"
        )
    fp32 = graph.to_bytes([y], description="lutnas-tflite")
    constants = {i for i, t in enumerate(graph.tensors) if t.data is not None}
    inputs = calibration_inputs(graph.shape(graph.inputs[0]), samples, seed)
    cal = calibrate(fp32, inputs, constants)
    quantizer = Quantizer(graph, cal.ranges)
    qgraph, (qy,) = quantizer.run([y])
    data = qgraph.to_bytes([qy], description="lutnas-tflite-int8")
    check_int8(graph, quantizer.map, qgraph, data, inputs[0])
    return data


def with_batch_statistics(
    module: nn.Module, input_shape: Sequence[int], seed: int = CALIBRATION_SEED
) -> nn.Module:
    """A copy of ``module`` (eval mode) whose BatchNorm running statistics are those of a batch
    of :data:`BN_BATCH` standard-normal inputs of ``input_shape`` (batch dimension replaced);
    ``module`` itself is left as it is. Weights are not touched."""
    module = copy.deepcopy(module)
    with bn_statistics(module, input_shape, seed):
        stats = [(bn.running_mean.clone(), bn.running_var.clone()) for bn in _norms(module)]
    with torch.no_grad():  # keep the statistics (the context restored the old ones)
        for bn, (mean, var) in zip(_norms(module), stats, strict=True):
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
    return module.eval()


@contextlib.contextmanager
def bn_statistics(
    module: nn.Module, input_shape: Sequence[int], seed: int = CALIBRATION_SEED
) -> Iterator[nn.Module]:
    """Inside, ``module``'s BatchNorm layers hold the statistics of :data:`BN_BATCH` random
    inputs (see :func:`with_batch_statistics`) and it is in eval mode; on exit its statistics,
    momentum and mode are restored (no copy of the weights is made)."""
    norms = _norms(module)
    saved = [
        (
            bn.running_mean.clone(),
            bn.running_var.clone(),
            bn.num_batches_tracked.clone(),
            bn.momentum,
        )
        for bn in norms
    ]
    training = module.training
    try:
        if norms:
            for bn in norms:
                bn.reset_running_stats()
                bn.momentum = None  # a cumulative average: exactly this batch's statistics
            generator = torch.Generator().manual_seed(seed)
            x = torch.randn((BN_BATCH, *tuple(input_shape)[1:]), generator=generator)
            module.train()
            with torch.no_grad(), _threads_within_affinity():
                module(x)
        module.eval()
        yield module
    finally:
        for bn, (mean, var, count, momentum) in zip(norms, saved, strict=True):
            with torch.no_grad():
                bn.running_mean.copy_(mean)
                bn.running_var.copy_(var)
                bn.num_batches_tracked.copy_(count)
            bn.momentum = momentum
        module.train(training)


def _norms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [
        m
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


@contextlib.contextmanager
def _threads_within_affinity() -> Iterator[None]:
    """torch's intra-op threads cut to the cores this process may run on, while inside: a
    backend pinned to one core (profiler.host) with torch's default of one thread per core
    made the forward pass ~25× slower here (two threads contending for one core)."""
    before = torch.get_num_threads()
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else before
    if allowed < before:
        torch.set_num_threads(allowed)
    try:
        yield
    finally:
        if allowed < before:
            torch.set_num_threads(before)


def check_int8(
    src: Graph, mapping: dict[int, int], qgraph: Graph, tflite: bytes, x: np.ndarray
) -> float:
    """The largest per-op error of the int8 file (:func:`profiler.tflite.int8_check.op_errors`
    on input ``x``), after checking that XNNPACK runs it as one partition.

    Raises:
        ConversionError: the graph is split, or an op is further than :data:`MAX_OP_ERROR` from
            its fp32 op (a collapsed or saturated tensor).
    """
    partitions = delegated_partitions(tflite)
    if partitions != 1:
        raise ConversionError(
            f"XNNPACK runs the int8 graph as {partitions} partitions, not one: an op or a "
            "quantization its int8 kernels refuse would run on TFLite's own kernels"
        )
    errors = op_errors(src, mapping, qgraph, tflite, x)
    name, worst = max(errors, key=lambda e: e[1])
    if not worst <= MAX_OP_ERROR:
        raise ConversionError(
            f"an int8 {name} op's output is {worst:.0%} (relative L2) from its fp32 op's on the "
            f"same inputs (limit {MAX_OP_ERROR:.0%}): its tensors saturate or collapse, so the "
            "file would not time a real network"
        )
    return worst
