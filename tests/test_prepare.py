"""Model files made ahead of the timing core (profiler.prepare), with real worker processes,
real ONNX exports, a real pinned ONNX Runtime backend and real LUT files."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import onnx
import pytest
from export_cache_checks import half_written

from lut.store import LutStore
from lutnas.spaces.space import get_space
from profiler.backends.onnxruntime import OnnxRuntimeBackend
from profiler.export import onnx_path
from profiler.loop import ProfileSettings, profile_layers
from profiler.prepare import NoPreparation, PrepareAhead, prepare_ahead, thread_affinity
from profiler.workloads import layer_workload

CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
needs_two_cores = pytest.mark.skipif(len(CORES) < 2, reason="needs two cores to pin one")
SETTINGS = ProfileSettings(warmup=1, runs=3, reference_every=0, max_attempts=1)


def specs(n: int, seed: int = 0):
    layers = get_space("mnasnet").unique_layers(160)
    random.Random(seed).shuffle(layers)
    return layers[:n]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _threads_of(pid: int) -> list[int]:
    return [int(t) for t in os.listdir(f"/proc/{pid}/task")]


@pytest.fixture
def pool_started_first(monkeypatch):
    """The loop waits for the pool's worker to be up before its first row (by default it
    does not, and on a busy machine a short run may end before the worker has imported torch)."""
    original = PrepareAhead.ready

    def ready(self, index):
        self.wait_started(timeout_s=240)
        return original(self, index)

    monkeypatch.setattr(PrepareAhead, "ready", ready)


def _wait_for_workers(pool: PrepareAhead) -> list[int]:
    pool.wait_started(timeout_s=240)  # a worker has started and imported its exporter
    return pool.worker_pids


@needs_two_cores
def test_workers_never_run_on_the_timing_core(tmp_path):
    workloads = [layer_workload(s) for s in specs(6)]
    with OnnxRuntimeBackend(cache_dir=tmp_path / "onnx") as backend:
        timing = os.sched_getaffinity(0)
        assert len(timing) == 1 and backend.prepare_cores() == set(CORES) - timing
        with prepare_ahead(backend, workloads) as pool:
            assert isinstance(pool, PrepareAhead)
            pids = _wait_for_workers(pool)
            pool.ready(0)  # the first files are now being made by the worker
            assert pids
            for pid in pids:  # every thread of every worker (torch's too, once it exports)
                for tid in _threads_of(pid):
                    assert not os.sched_getaffinity(tid) & timing, (pid, tid)
            # the pool's own threads in this process run on the spare cores too
            helpers = [
                t.native_id
                for t in threading.enumerate()
                if type(t).__name__ == "_ExecutorManagerThread" or t.name == "QueueFeederThread"
            ]
            assert helpers
            for tid in helpers:
                assert not os.sched_getaffinity(tid) & timing
            for i in range(1, len(workloads)):
                pool.ready(i)
            assert os.sched_getaffinity(0) == timing  # the loop's thread stayed where it was
        assert not [pid for pid in pids if _alive(pid)]  # closed: no worker left


@needs_two_cores
def test_a_layer_table_made_ahead_times_the_files_the_backend_would_make(
    tmp_path, pool_started_first
):
    layers = specs(24, seed=1)
    with OnnxRuntimeBackend(cache_dir=tmp_path / "ahead") as backend:
        store = LutStore.create(
            tmp_path / "a.lut", backend.config(), backend.device_info(), SETTINGS.identity()
        )
        report = profile_layers(backend, store, layers, SETTINGS, progress=False)
        assert store.layer_keys() == {s.key for s in layers}
        store.close()
    assert report.measured == len(layers) and not report.failed
    assert report.made_ahead > 0  # the pool made some of the files the loop then loaded
    ahead_files = sorted((tmp_path / "ahead").glob("*.onnx"))
    assert len(ahead_files) == len(layers) and not half_written(tmp_path / "ahead")
    # the same layers exported in this process, in turn: the same files by name, and the same
    # graphs (ops, attributes, shapes); only the random weights differ
    for spec in layers:
        here = onnx.load(onnx_path(layer_workload(spec), tmp_path / "here"))
        there = onnx.load(onnx_path(layer_workload(spec), tmp_path / "ahead"))
        assert _graph(here) == _graph(there)
    assert sorted(p.name for p in (tmp_path / "here").glob("*.onnx")) == [
        p.name for p in ahead_files
    ]


@needs_two_cores
def test_litert_files_are_made_ahead_too(tmp_path, pool_started_first):
    from profiler.backends.litert import LiteRtBackend

    layers = specs(8, seed=4)
    with LiteRtBackend(cache_dir=tmp_path / "tflite") as backend:
        store = LutStore.create(
            tmp_path / "l.lut", backend.config(), backend.device_info(), SETTINGS.identity()
        )
        report = profile_layers(backend, store, layers, SETTINGS, progress=False)
        store.close()
    assert report.measured == len(layers) and report.made_ahead > 0
    assert len(list((tmp_path / "tflite").glob("*.tflite"))) == len(layers)


def _graph(model: onnx.ModelProto) -> tuple:
    g = model.graph
    return (
        [(n.op_type, [str(a) for a in n.attribute]) for n in g.node],
        [(i.name, tuple(i.dims)) for i in g.initializer],
        [str(v.type) for v in (*g.input, *g.output)],
    )


@pytest.mark.skipif(not CORES, reason="needs CPU affinity calls")
def test_one_core_falls_back_to_making_files_in_turn(tmp_path):
    layers = specs(4, seed=2)
    with thread_affinity({CORES[0]}):  # this thread, and what it starts, sees one core
        with OnnxRuntimeBackend(cache_dir=tmp_path / "onnx") as backend:
            assert backend.prepare_cores() == set()
            assert isinstance(
                prepare_ahead(backend, [layer_workload(s) for s in layers]), NoPreparation
            )
            store = LutStore.create(
                tmp_path / "one.lut", backend.config(), backend.device_info(), SETTINGS.identity()
            )
            report = profile_layers(backend, store, layers, SETTINGS, progress=False)
            assert store.layer_keys() == {s.key for s in layers}
            store.close()
    assert report.made_ahead == 0 and report.measured == len(layers)


def test_no_pool_without_pinning_or_a_file_to_make(tmp_path):
    from profiler.backends.torch_eager import TorchBackend

    workloads = [layer_workload(s) for s in specs(3)]
    with OnnxRuntimeBackend(pin=False, cache_dir=tmp_path) as backend:  # timing may run anywhere
        assert isinstance(prepare_ahead(backend, workloads), NoPreparation)
    with TorchBackend() as backend:  # nothing to export
        assert isinstance(prepare_ahead(backend, workloads), NoPreparation)
    with OnnxRuntimeBackend(cache_dir=tmp_path) as backend:
        assert isinstance(prepare_ahead(backend, workloads, workers=0), NoPreparation)


@needs_two_cores
def test_an_interrupt_while_files_are_made_ahead_loses_nothing(tmp_path, pool_started_first):
    """Ctrl-C (here: a KeyboardInterrupt from storing the 4th row) while the worker exports:
    the stored rows stay, the worker is gone, no temporary or partial file is left, and the
    same call resumes to the full table."""
    layers = specs(40, seed=3)
    cache = tmp_path / "onnx"
    seen: list[int] = []

    class Interrupting(LutStore):
        def put_layer(self, spec, m, attempts=1):
            super().put_layer(spec, m, attempts)
            if self.layer_count() == 4:
                seen.extend(pid for pid in _spawned_workers() if _alive(pid))
                raise KeyboardInterrupt

    with OnnxRuntimeBackend(cache_dir=cache) as backend:
        store = Interrupting.create(
            tmp_path / "i.lut", backend.config(), backend.device_info(), SETTINGS.identity()
        )
        with pytest.raises(KeyboardInterrupt):
            profile_layers(backend, store, layers, SETTINGS, progress=False)
        before = store.latency_ms(s.key for s in layers)
        store.close()
    assert len(before) == 4
    assert seen and not [pid for pid in seen if _alive(pid)]  # the exporter was running, then ended
    assert not half_written(cache)
    for path in cache.glob("*.onnx"):
        onnx.checker.check_model(onnx.load(path))  # no half-written cached file
    with OnnxRuntimeBackend(cache_dir=cache) as backend, LutStore.open(tmp_path / "i.lut") as store:
        report = profile_layers(backend, store, layers, SETTINGS, progress=False)
        after = store.latency_ms(s.key for s in layers)
    assert report.skipped == 4 and report.measured == len(layers) - 4
    assert len(after) == len(layers) and all(after[k] == v for k, v in before.items())


def _spawned_workers() -> list[int]:
    """This process's children started by multiprocessing's spawn (not its resource tracker,
    which lives as long as this process)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                spawned = b"spawn_main" in (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and spawned:
                out.append(int(entry.name))
    return out


def _weights(workload) -> list:
    return [t.numpy() for t in workload.build().state_dict().values()]


def test_a_workload_is_the_same_network_in_every_process_and_leaves_the_rng_alone():
    """A worker process builds the same weights as the timing process (its file is the one the
    backend would make; an int8 file's quality check passes or fails the same every time), and
    building one does not move the caller's random numbers."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import numpy as np
    import torch

    from lutnas.spaces.sampling import sample_archs
    from profiler.workloads import arch_workload

    layer, other = specs(2)
    (arch,) = sample_archs(get_space("mnasnet"), 1, seed=0, resolutions=(64,))
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    here = [_weights(w) for w in (layer_workload(layer), arch_workload(arch))]
    assert torch.equal(torch.rand(3), expected)  # the caller's stream is where it was
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        there = list(pool.map(_weights, [layer_workload(layer), arch_workload(arch)]))
    for a, b in zip(here, there, strict=True):
        assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # another key, other weights: the seed is the workload's, not one for all
    theirs = _weights(layer_workload(other))
    assert not all(np.array_equal(x, y) for x, y in zip(here[0], theirs, strict=False))
